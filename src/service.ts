import type { FastifyInstance } from 'fastify';
import type { Redis } from 'ioredis';
import type { Knex } from 'knex';
import type { Logger } from 'pino';
import {
  BATCHES_IN_FLIGHT,
  startCreateWorker,
  type RunningWorker,
} from '../workers/createRecordWorker.ts';
import {
  startDeliveryWorker,
  type RunningDeliveryWorker,
} from '../workers/webhookDeliveryWorker.ts';
import type { Config } from './config.ts';
import { connectDatabase, ensureDatabase, migrateLatest } from './db/connect.ts';
import { buildHealthServer } from './health/healthServer.ts';
import { serviceReadiness, type Readiness } from './health/readiness.ts';
import { WorkerReadiness } from './health/workerReadiness.ts';
import { buildIngress } from './ingress/server.ts';
import { QueueEventReader } from './ingress/queueEventReader.ts';
import { RateLimiter } from './ingress/rateLimit.ts';
import { ResultWaiter } from './ingress/resultWaiter.ts';
import { errorFacts } from './log.ts';
import { ServiceMetrics } from './metrics/serviceMetrics.ts';
import {
  closeQueue,
  connectRedis,
  CREATE_QUEUE,
  openCreateQueue,
  openDeliveryQueue,
  type CreateQueue,
  type DeliveryQueue,
} from './queue.ts';
import { redisDurabilityWarnings } from './redisCheck.ts';
import { withTimeout } from './timeout.ts';
import { systemLookup, type HostLookup } from './webhook/callbackTarget.ts';

/** The first line of a library's message, without a stack trace. */
function firstLine(message: unknown): string {
  const text = message instanceof Error ? message.message : String(message);
  return text.split('\n')[0]?.slice(0, 200) ?? '';
}

/** Which parts this process runs. */
export interface ServiceParts {
  ingress: boolean;
  worker: boolean;
}

/** What a test may put in place of the machine's own. */
export interface ServiceOptions {
  /** Resolves webhook callback hosts (default: the system resolver). */
  lookupHost?: HostLookup;
}

export interface RunningService {
  config: Config;
  db: Knex;
  queue: CreateQueue;
  deliveryQueue: DeliveryQueue;
  /** The ingress, when this process runs it (it listens once main.ts says so). */
  app: FastifyInstance | undefined;
  /**
   * `/healthz`, `/readyz` and `/metrics` of a process that runs only workers, to listen
   * on WORKER_HEALTH_PORT; undefined with the ingress (which serves them) or port 0.
   */
  healthApp: FastifyInstance | undefined;
  metrics: ServiceMetrics;
  readiness: Readiness;
  worker: RunningWorker | undefined;
  deliveryWorker: RunningDeliveryWorker | undefined;
  warnings: string[];
  /** Stops taking requests, lets active jobs finish within the grace period, closes all. */
  stop: () => Promise<void>;
}

/** How long a start waits for Redis before going on without it (it reconnects later). */
const REDIS_START_WAIT_MS = 2_000;

/** Waits for a connection's first `ready`, up to a bound; false when it did not come. */
async function redisReady(redis: Redis, timeoutMs: number): Promise<boolean> {
  if (redis.status === 'ready') return true;
  const ready = new Promise<true>((resolve) => redis.once('ready', () => resolve(true)));
  return withTimeout(ready, timeoutMs).catch(() => false);
}

/**
 * Starts the service's parts against one database and one Redis: creates the
 * database when missing and applies migrations (knex locks them, so any number of
 * processes may start at once), then the ingress, the worker, or both.
 */
export async function startService(
  config: Config,
  log: Logger,
  parts: ServiceParts,
  options: ServiceOptions = {},
): Promise<RunningService> {
  await ensureDatabase(config.DATABASE_URL);
  // Connections: the worker's batches, each webhook attempt, and a few for the
  // ingress's reads and the cleanup. knex would print its warnings (with stack
  // traces) to stdout, outside the JSON logs.
  const poolSize = BATCHES_IN_FLIGHT + config.WEBHOOK_CONCURRENCY + 4;
  const db = connectDatabase(config.DATABASE_URL, poolSize, {
    warn: (message: unknown) =>
      log.warn({ detail: firstLine(message) }, 'database client warning'),
    error: (message: unknown) =>
      log.error({ detail: firstLine(message) }, 'database client error'),
    deprecate: () => undefined,
    debug: () => undefined,
  });
  await migrateLatest(db);

  const producer = connectRedis(config.REDIS_URL, 'producer');
  const queue = openCreateQueue(config, producer);
  const deliveryQueue = openDeliveryQueue(config, producer);
  for (const opened of [queue, deliveryQueue]) {
    opened.on('error', (error) => log.warn({ err: errorFacts(error) }, 'queue error'));
  }
  const metrics = new ServiceMetrics([queue, deliveryQueue]);

  // Checked on every (re)connect: a Redis restarted with other settings is seen too.
  const warnings = ['Redis not reached yet: eviction policy and persistence unknown'];
  const checkDurability = async () => {
    const found = await redisDurabilityWarnings(producer);
    warnings.splice(0, warnings.length, ...found);
    for (const warning of found) log.warn(warning);
  };
  let firstCheck = Promise.resolve();
  producer.on('ready', () => {
    firstCheck = checkDurability();
  });
  if (producer.status === 'ready') firstCheck = checkDurability();
  if (await redisReady(producer, REDIS_START_WAIT_MS)) await firstCheck;

  let worker: RunningWorker | undefined;
  let deliveryWorker: RunningDeliveryWorker | undefined;
  const workerReadiness: WorkerReadiness[] = [];
  let workerConnection: Redis | undefined;
  let deliveryConnection: Redis | undefined;
  if (parts.worker) {
    // One connection per worker: closing one worker disconnects its own.
    workerConnection = connectRedis(config.REDIS_URL, 'consumer');
    deliveryConnection = connectRedis(config.REDIS_URL, 'consumer');
    worker = startCreateWorker({
      config,
      db,
      log,
      connection: workerConnection,
      deliveryQueue,
      metrics,
    });
    deliveryWorker = startDeliveryWorker({
      config,
      db,
      log,
      connection: deliveryConnection,
      queue: deliveryQueue,
      lookupHost: options.lookupHost ?? systemLookup,
      metrics,
    });
    workerReadiness.push(
      new WorkerReadiness({
        worker: worker.worker,
        connection: workerConnection,
        queue,
        concurrency: config.WORKER_CONCURRENCY,
        running: worker.running,
        progressTimeoutMs: config.WORKER_PROGRESS_TIMEOUT_MS,
      }),
      new WorkerReadiness({
        worker: deliveryWorker.worker,
        connection: deliveryConnection,
        queue: deliveryQueue,
        concurrency: config.WEBHOOK_CONCURRENCY,
        running: deliveryWorker.running,
        progressTimeoutMs: config.WORKER_PROGRESS_TIMEOUT_MS,
      }),
    );
  }

  const readiness = serviceReadiness({
    redis: producer,
    db,
    warnings,
    workers: workerReadiness,
  });

  let app: FastifyInstance | undefined;
  let events: QueueEventReader | undefined;
  let eventsConnection: Redis | undefined;
  let waiter: ResultWaiter | undefined;
  if (parts.ingress) {
    eventsConnection = connectRedis(config.REDIS_URL, 'consumer');
    events = new QueueEventReader(
      eventsConnection,
      `${config.QUEUE_PREFIX}:${CREATE_QUEUE}:events`,
    );
    // Without Redis the reader starts once Redis is back; results are polled meanwhile.
    await withTimeout(events.start(), REDIS_START_WAIT_MS).catch(() => undefined);
    waiter = new ResultWaiter(events, db, config.RESULT_POLL_MS, log);
    const limiter = new RateLimiter(producer, config.QUEUE_PREFIX, {
      windowMs: config.RATE_LIMIT_WINDOW_MS,
      perCaller: config.RATE_LIMIT_PER_CALLER,
      perAddress: config.RATE_LIMIT_PER_ADDRESS,
    });
    app = await buildIngress({
      config,
      log,
      queue,
      waiter,
      limiter,
      db,
      readiness,
      metrics,
      boardQueues: [queue, deliveryQueue],
      queueConnected: () => producer.status === 'ready',
    });
  }

  const healthApp =
    parts.worker && !parts.ingress && config.WORKER_HEALTH_PORT !== 0
      ? buildHealthServer(log, { readiness, metrics })
      : undefined;

  const stop = async () => {
    // The whole stop fits in the grace period (../shared/DESIGN.md section 4): each
    // step gets what is left of it, so Redis being away cannot hold the exit.
    const deadline = Date.now() + config.SHUTDOWN_GRACE_MS;
    const left = () => Math.max(0, deadline - Date.now());
    const within = (promise: Promise<unknown> | undefined, capMs = Infinity) =>
      withTimeout(promise ?? Promise.resolve(), Math.min(capMs, left())).catch(
        () => undefined,
      );

    // Together: held sync requests get their results while the workers drain.
    await Promise.all([
      within(app?.close()),
      within(healthApp?.close(), 1_000),
      worker?.close(left()),
      deliveryWorker?.close(left()),
    ]);
    waiter?.close();
    events?.close();
    await Promise.all([
      closeQueue(queue, Math.min(1_000, left())),
      closeQueue(deliveryQueue, Math.min(1_000, left())),
    ]);
    producer.disconnect();
    workerConnection?.disconnect();
    deliveryConnection?.disconnect();
    eventsConnection?.disconnect();
    await within(db.destroy(), 1_000);
  };

  return {
    config,
    db,
    queue,
    deliveryQueue,
    app,
    healthApp,
    metrics,
    readiness,
    worker,
    deliveryWorker,
    warnings,
    stop,
  };
}
