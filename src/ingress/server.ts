import { randomUUID } from 'node:crypto';
import Fastify, {
  LogController,
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
} from 'fastify';
import type { Queue } from 'bullmq';
import type { Knex } from 'knex';
import type { Logger } from 'pino';
import type { Config } from '../config.ts';
import { classifyJobError, TransientError } from '../errors.ts';
import { registerOperationsRoutes } from '../health/operationsRoutes.ts';
import type { Readiness } from '../health/readiness.ts';
import { errorFacts } from '../log.ts';
import type { ServiceMetrics } from '../metrics/serviceMetrics.ts';
import { formatServiceError, SERVICE_ERRORS, type ServiceError } from '../messages.ts';
import { CREATE_JOB, createJobOptions, type CreateQueue } from '../queue.ts';
import type { CallJobData, DeliveryStatus, HttpMethod, JobState } from '../types.ts';
import { errorXml, pendingJobXml, XML_TYPE } from '../xml.ts';
import { registerBodyParsers } from './bodyParsers.ts';
import { claimIdempotencyKey } from '../db/claimIdempotencyKey.ts';
import { findDeliveryStatus } from '../db/findDeliveryStatus.ts';
import { callFingerprint, callerKey, readIdempotencyKey } from './idempotency.ts';
import { isJobId, readJobStatus, type JobStatus } from './jobStatus.ts';
import { answerClientError } from './clientErrors.ts';
import { OPENAPI_PATH, openApiDocument } from './openapi.ts';
import { registerQueueBoard } from './queueBoard.ts';
import { readCall, RequestError } from './readCall.ts';
import type { RateLimiter } from './rateLimit.ts';
import type { ResultWaiter } from './resultWaiter.ts';
import { recordRoutes } from './routeList.ts';
import { withTimeout } from '../timeout.ts';

export const CREATE_PATHS = [
  '/billing/api/phonebook_record_create',
  '/api/phonebook_record_create',
];
export const JOB_PATHS = ['/billing/api/jobs/:id', '/api/jobs/:id'];

/**
 * Longest request URL accepted. Node's HTTP parser already refuses a request line and
 * headers past 16 KiB (`--max-http-header-size`); this bound keeps the same limit for
 * requests that reach the app any other way.
 */
const MAX_URL_BYTES = 16_384;

/** Seconds a client should wait before polling a pending job again. */
const RETRY_AFTER_SECONDS = 1;

export interface IngressDeps {
  config: Config;
  log: Logger;
  queue: CreateQueue;
  waiter: ResultWaiter;
  limiter: RateLimiter;
  /**
   * True while the producer's Redis connection is up. A job is only added then: an add
   * on a connection still (re)connecting would wait for it, and could land after the
   * client was already told 503.
   */
  queueConnected: () => boolean;
  db: Knex;
  /** Answers readiness: Redis and Postgres reachable, migrations applied. */
  readiness: Readiness;
  metrics: ServiceMetrics;
  /** The queues the dashboard shows, when BOARD_USERNAME and BOARD_PASSWORD are set. */
  boardQueues: Queue[];
}

declare module 'fastify' {
  interface FastifyRequest {
    jobId?: string;
    outcome?: string;
  }
}

/** RFC 7240: `Prefer: respond-async` is one token among a comma-separated list. */
function prefersAsync(prefer: string | string[] | undefined): boolean {
  const values = Array.isArray(prefer) ? prefer : [prefer ?? ''];
  return values.some((value) =>
    value
      .split(',')
      .some((token) => token.split(';')[0]?.trim().toLowerCase() === 'respond-async'),
  );
}

const XML_MEDIA_TYPES = new Set(['text/xml', 'application/xml']);

/**
 * RFC 9110 section 12.5.1: JSON when the client ranks `application/json` above the XML
 * types it names (a tie goes to the one listed first). A wildcard alone keeps XML,
 * MOR's format.
 */
export function wantsJson(accept: string | undefined): boolean {
  let json: { q: number; index: number } | undefined;
  let xml: { q: number; index: number } | undefined;

  (accept ?? '').split(',').forEach((entry, index) => {
    const [type = '', ...params] = entry
      .split(';')
      .map((part) => part.trim().toLowerCase());
    const qParam = params.find((param) => param.startsWith('q='));
    const q = qParam === undefined ? 1 : Number(qParam.slice(2));
    if (!(q > 0)) return;
    if (type === 'application/json' && (json === undefined || q > json.q))
      json = { q, index };
    if (XML_MEDIA_TYPES.has(type) && (xml === undefined || q > xml.q)) xml = { q, index };
  });

  if (json === undefined) return false;
  if (xml === undefined) return true;
  return json.q > xml.q || (json.q === xml.q && json.index < xml.index);
}

function jobLocation(request: FastifyRequest, jobId: string): string {
  const base = request.url.startsWith('/billing/') ? '/billing/api/jobs/' : '/api/jobs/';
  return `${base}${jobId}`;
}

function sendXml(reply: FastifyReply, status: number, xml: string): FastifyReply {
  return reply.code(status).type(XML_TYPE).send(xml);
}

function sendServiceError(
  reply: FastifyReply,
  error: ServiceError,
  detail = '',
): FastifyReply {
  reply.request.outcome = error.code;
  return sendXml(reply, error.httpStatus, errorXml(formatServiceError(error, detail)));
}

function sendPending(reply: FastifyReply, jobId: string, state: JobState): FastifyReply {
  reply.request.outcome = 'pending';
  reply.header('location', jobLocation(reply.request, jobId));
  reply.header('retry-after', String(RETRY_AFTER_SECONDS));
  return sendXml(reply, 202, pendingJobXml(jobId, state));
}

/**
 * A job's stored result. `Content-Location` names the job's status resource, which
 * serves this same XML (RFC 9110 section 8.7), so every answer carries its job id.
 */
function sendResult(reply: FastifyReply, jobId: string, resultXml: string): FastifyReply {
  reply.request.outcome = 'completed';
  reply.header('content-location', jobLocation(reply.request, jobId));
  return sendXml(reply, 200, resultXml);
}

function sendStatusXml(
  reply: FastifyReply,
  jobId: string,
  status: JobStatus,
): FastifyReply {
  switch (status.kind) {
    case 'pending':
      return sendPending(reply, jobId, status.state);
    case 'completed':
      return sendResult(reply, jobId, status.resultXml);
    case 'failed':
      return sendServiceError(reply, SERVICE_ERRORS.jobFailed, status.failedReason);
    case 'queue-unavailable':
      return sendServiceError(reply, SERVICE_ERRORS.queueUnavailable);
    case 'unknown':
      return sendServiceError(reply, SERVICE_ERRORS.jobNotFound);
  }
}

/** Maps a thrown error to the service error answered for it. */
function serviceErrorFor(error: unknown): ServiceError {
  if (error instanceof RequestError) return error.error;

  const { code, statusCode } = error as { code?: string; statusCode?: number };
  if (code === 'FST_ERR_CTP_BODY_TOO_LARGE') return SERVICE_ERRORS.bodyTooLarge;
  if (typeof statusCode === 'number' && statusCode >= 400 && statusCode < 500) {
    return SERVICE_ERRORS.bodyMalformed;
  }
  // Postgres away (a status read, an idempotency key): retry later, not a bug.
  if (classifyJobError(error) instanceof TransientError)
    return SERVICE_ERRORS.queueUnavailable;
  return SERVICE_ERRORS.internal;
}

/**
 * The `webhook` of a status answer: null while the job has no result yet, or when the
 * call named no callback_url; else the delivery's state and every attempt.
 */
function webhookJson(delivery: DeliveryStatus | undefined) {
  if (delivery === undefined) return null;
  return {
    state: delivery.state,
    reason: delivery.reason,
    attempts: delivery.attempts.map((attempt) => ({
      at: attempt.attemptedAt.toISOString(),
      status_code: attempt.statusCode,
      error: attempt.error,
      duration_ms: attempt.durationMs,
    })),
  };
}

function statusJson(
  jobId: string,
  status: JobStatus,
  delivery: DeliveryStatus | undefined,
) {
  const iso = (date: Date | undefined) => date?.toISOString() ?? null;
  const base = { id: jobId, webhook: webhookJson(delivery) };

  switch (status.kind) {
    case 'pending':
      return {
        ...base,
        state: status.state,
        done: false,
        result_xml: null,
        created_at: iso(status.createdAt),
        finished_at: null,
      };
    case 'completed':
      return {
        ...base,
        state: 'completed',
        done: true,
        result_xml: status.resultXml,
        created_at: iso(status.createdAt),
        finished_at: iso(status.finishedAt),
      };
    case 'failed':
      return {
        ...base,
        state: 'failed',
        done: true,
        result_xml: null,
        error: status.failedReason,
        created_at: iso(status.createdAt),
        finished_at: iso(status.finishedAt),
      };
    default:
      return undefined;
  }
}

export async function buildIngress(deps: IngressDeps): Promise<FastifyInstance> {
  const { config, queue, waiter, db } = deps;
  const app = Fastify({
    loggerInstance: deps.log as FastifyBaseLogger,
    logController: new LogController({
      disableRequestLogging: true,
      requestIdLogLabel: 'requestId',
    }),
    bodyLimit: config.BODY_LIMIT_BYTES,
    genReqId: () => randomUUID(),
    requestTimeout: config.REQUEST_TIMEOUT_MS,
    // Node checks the two timeouts every connectionsCheckingInterval (30 s by default).
    http: {
      headersTimeout: config.HEADERS_TIMEOUT_MS,
      connectionsCheckingInterval: 1_000,
    },
    return503OnClosing: true,
    // A job id longer than a UUID is answered 404 by the route, not 414 by the router.
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: MAX_URL_BYTES },
    clientErrorHandler: (error, socket) => answerClientError(error, socket, deps.log),
    frameworkErrors: (_error, request, reply) => {
      request.outcome = SERVICE_ERRORS.badRequest.code;
      return sendServiceError(reply, SERVICE_ERRORS.badRequest);
    },
  });
  recordRoutes(app);

  await registerBodyParsers(app, config.MAX_PARAMS);

  app.addHook('onRequest', async (request, reply) => {
    if ((request.raw.url ?? '').length > MAX_URL_BYTES) {
      return sendServiceError(reply, SERVICE_ERRORS.urlTooLong);
    }
  });

  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unmatched';
    const fields = {
      jobId: request.jobId,
      method: request.method,
      route,
      status: reply.statusCode,
      outcome: request.outcome,
      durationMs: Math.round(reply.elapsedTime),
    };
    if (reply.statusCode >= 500) request.log.error(fields, 'request');
    else request.log.info(fields, 'request');
    const outcome = request.outcome ?? 'none';
    deps.metrics.countRequest(route, reply.statusCode, outcome, reply.elapsedTime / 1000);
  });

  app.setErrorHandler((error, request, reply) => {
    const serviceError = serviceErrorFor(error);
    if (serviceError.httpStatus >= 500) {
      request.log.error({ err: errorFacts(error) }, 'request failed');
    }
    const detail = error instanceof RequestError ? error.detail : '';
    return sendServiceError(reply, serviceError, detail);
  });

  app.setNotFoundHandler((_request, reply) =>
    sendServiceError(reply, SERVICE_ERRORS.notFound),
  );

  /**
   * Resolves the job of a call with an Idempotency-Key: a new job for a new key, the
   * first call's job for a repeat. Answers 422 for a key reused with other params.
   */
  async function claimKey(key: string, jobId: string, data: CallJobData) {
    try {
      return await claimIdempotencyKey(
        db,
        {
          caller: callerKey(data.params),
          key,
          fingerprint: callFingerprint(data.method, data.params),
          jobId,
        },
        config.IDEMPOTENCY_KEY_HOURS,
      );
    } catch (error) {
      app.log.warn({ err: errorFacts(error) }, 'idempotency key claim failed');
      throw new RequestError(SERVICE_ERRORS.queueUnavailable, '', { cause: error });
    }
  }

  const readStatus = (jobId: string) =>
    readJobStatus(queue, db, jobId, config.RESULT_RETENTION_HOURS, redisAccess);
  const redisAccess = {
    connected: deps.queueConnected,
    timeoutMs: config.ENQUEUE_TIMEOUT_MS,
  };

  async function enqueue(request: FastifyRequest, jobId: string, data: CallJobData) {
    if (!deps.queueConnected()) throw new RequestError(SERVICE_ERRORS.queueUnavailable);
    try {
      await withTimeout(
        queue.add(CREATE_JOB, data, createJobOptions(config, jobId)),
        config.ENQUEUE_TIMEOUT_MS,
      );
    } catch (error) {
      request.log.warn({ err: errorFacts(error) }, 'enqueue failed');
      throw new RequestError(SERVICE_ERRORS.queueUnavailable, '', { cause: error });
    }
  }

  async function acceptCall(request: FastifyRequest, reply: FastifyReply) {
    const call = readCall(request, config.MAX_PARAMS);
    const rate = await deps.limiter.check(() => callerKey(call.params), request.ip);
    if (!rate.allowed) {
      reply.header('retry-after', String(rate.retryAfterSeconds));
      return sendServiceError(reply, SERVICE_ERRORS.rateLimited);
    }
    const idempotencyKey = readIdempotencyKey(request.headers['idempotency-key']);
    const method: HttpMethod = request.method === 'GET' ? 'GET' : 'POST';
    const data: CallJobData = { method, params: call.params, acceptedAtMs: Date.now() };
    const respondAsync =
      call.asyncParam ||
      prefersAsync(request.headers.prefer) ||
      call.params.callback_url !== undefined;

    let jobId: string = randomUUID();
    let enqueued = false;
    if (idempotencyKey !== undefined) {
      const claim = await claimKey(idempotencyKey, jobId, data);
      if (claim.kind === 'mismatch') {
        return sendServiceError(reply, SERVICE_ERRORS.idempotencyKeyReused);
      }
      jobId = claim.jobId;

      if (claim.kind === 'repeat') {
        request.jobId = jobId;
        const status = await readStatus(jobId);
        if (status.kind !== 'pending' && status.kind !== 'unknown') {
          return sendStatusXml(reply, jobId, status);
        }
        // Unknown: the first call's ingress stopped before its job was queued.
        enqueued = status.kind === 'pending';
      }
    }
    request.jobId = jobId;

    const pending = respondAsync ? undefined : waiter.expect(jobId);
    try {
      if (!enqueued) await enqueue(request, jobId, data);
    } catch (error) {
      pending?.cancel();
      throw error;
    }

    if (pending === undefined) return sendPending(reply, jobId, 'waiting');

    const outcome = await pending.outcome(config.SYNC_WAIT_MS);
    if (outcome.kind === 'completed') {
      return sendResult(reply, jobId, outcome.resultXml);
    }
    if (outcome.kind === 'failed') {
      return sendServiceError(reply, SERVICE_ERRORS.jobFailed, outcome.failedReason);
    }
    const status = await readStatus(jobId);
    return sendStatusXml(reply, jobId, status);
  }

  async function answerStatus(
    request: FastifyRequest<{ Params: { id: string } }>,
    reply: FastifyReply,
  ) {
    const jobId = request.params.id;
    const known = isJobId(jobId);
    const status: JobStatus = known ? await readStatus(jobId) : { kind: 'unknown' };

    if (known) request.jobId = jobId;
    if (!wantsJson(request.headers.accept)) return sendStatusXml(reply, jobId, status);

    if (status.kind === 'queue-unavailable' || status.kind === 'unknown') {
      const error =
        status.kind === 'unknown'
          ? SERVICE_ERRORS.jobNotFound
          : SERVICE_ERRORS.queueUnavailable;
      request.outcome = error.code;
      return reply.code(error.httpStatus).send({ error: error.text });
    }
    request.outcome = status.kind;
    const delivery = await findDeliveryStatus(db, jobId);
    return reply.code(200).send(statusJson(jobId, status, delivery));
  }

  for (const url of CREATE_PATHS) {
    app.route({
      method: ['GET', 'POST'],
      url,
      exposeHeadRoute: false,
      handler: acceptCall,
    });
  }
  for (const url of JOB_PATHS) {
    app.route({ method: 'GET', url, exposeHeadRoute: false, handler: answerStatus });
  }

  registerOperationsRoutes(app, deps);

  const { BOARD_USERNAME: username, BOARD_PASSWORD: password } = config;
  const board = username !== undefined && password !== undefined;
  if (board) {
    await registerQueueBoard(app, {
      queues: deps.boardQueues,
      credentials: { username, password },
      readOnly: config.BOARD_READ_ONLY,
    });
  }

  const document = openApiDocument({ board });
  app.get(OPENAPI_PATH, { exposeHeadRoute: false }, async () => document);

  return app;
}
