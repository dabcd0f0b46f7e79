import { setTimeout as sleep } from 'node:timers/promises';
import { computeHash, type CallBytes } from '../hash.ts';
import { retryAfterMs } from '../webhook/retrySchedule.ts';
import { isJobFailedText, readOutcome, type Outcome } from './outcome.ts';
import { Semaphore } from './semaphore.ts';
import { signalWithTimeout, TimeoutError } from './signalWithTimeout.ts';

/**
 * A client of phonebook_record_create for Node programs (../shared/DESIGN.md sections
 * 2 and 3): signs a call with the service's own hash code, submits it sync or async,
 * optionally with an Idempotency-Key, and polls the job status until the result is
 * there. 429 and 503 answers are waited out (their Retry-After honoured, with
 * backoff), and so are network errors whenever a repeat is safe: on a status poll,
 * and on a submit that carries an Idempotency-Key (a repeat then returns the first
 * call's job instead of queueing a second one).
 */

export { type Outcome } from './outcome.ts';

export const CREATE_PATH = '/billing/api/phonebook_record_create';

/** The signed params of one call, as text. A missing field counts as empty. */
export interface RecordFields {
  user_id: string;
  number: string;
  name: string;
  speeddial: string;
  /** This service's extension: the result is POSTed there once stored (async). */
  callback_url?: string;
}

export interface PhonebookClientOptions {
  /** The service's address, such as `http://127.0.0.1:3000`; the API paths are added. */
  baseUrl: string;
  /** The caller's username, sent as `u`. */
  username: string;
  /** The API_Secret_Key of the caller's scope. Only signs; never sent, never shown. */
  secret: string;
  /** HTTP requests in flight at once, over every call of this client. Default 16. */
  maxConcurrentRequests?: number;
  /** Bound on one HTTP request, the answer's body included, in ms. Default 30000. */
  requestTimeoutMs?: number;
  /**
   * How long one request is retried (429, 503, network errors) before giving up, in
   * ms. Default 60000.
   */
  retryForMs?: number;
  /**
   * Longest wait between polls, and between retries unless Retry-After asks for more,
   * in ms. Default 10000.
   */
  maxWaitMs?: number;
}

export interface SubmitOptions {
  /** `sync` (the default) waits for the result; `async` asks for 202 at once. */
  mode?: 'sync' | 'async';
  /** 1 to 255 visible ASCII characters; a repeat returns the first call's job. */
  idempotencyKey?: string;
  signal?: AbortSignal;
}

/** A call the service answered for good. */
export interface DoneAnswer {
  state: 'done';
  /** Undefined when the service refused the call before queueing it (a 4xx). */
  jobId: string | undefined;
  httpStatus: number;
  /** The answer's exact XML. */
  xml: string;
  outcome: Outcome;
}

/** A call the service queued and has not answered yet. */
export interface PendingAnswer {
  state: 'pending';
  jobId: string;
  /** The job's status URL (the answer's Location). */
  location: string;
  retryAfterMs: number;
}

export type CallAnswer = DoneAnswer | PendingAnswer;

/**
 * Why a call got no answer. `unreachable`: network errors or timeouts past the retry
 * budget. `busy`: 429 or 503 past it. `unexpected-answer`: an answer that is not this
 * service's (a wrong base URL, a proxy's error page). `job-not-found`: the status
 * endpoint no longer knows the job.
 */
export type ClientErrorReason =
  'unreachable' | 'busy' | 'unexpected-answer' | 'job-not-found';

export class PhonebookClientError extends Error {
  constructor(
    readonly reason: ClientErrorReason,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'PhonebookClientError';
  }
}

interface HttpRequest {
  method: 'GET' | 'POST';
  url: string;
  headers: Record<string, string>;
  body?: string;
}

interface Exchange {
  status: number;
  headers: Headers;
  body: string;
}

/** One attempt's end: an answer, or a network error named by its code. */
type Attempt = { kind: 'answer'; exchange: Exchange } | { kind: 'network'; code: string };

const DEFAULTS = {
  maxConcurrentRequests: 16,
  requestTimeoutMs: 30_000,
  retryForMs: 60_000,
  maxWaitMs: 10_000,
};

/** The first retry waits this long, doubling with each further one. */
const FIRST_BACKOFF_MS = 250;
/** Polls slow down by this factor while a job stays pending. */
const POLL_GROWTH = 1.5;
/** What a 202 without Retry-After is taken to ask for. */
const DEFAULT_RETRY_AFTER_MS = 1_000;

/** The params a MOR client sends for these fields: `u`, the fields and their hash. */
export function signCall(
  username: string,
  fields: RecordFields,
  secret: string,
): Record<string, string> {
  const bytes: CallBytes = {};
  const params: Record<string, string> = { u: username };
  for (const [name, value] of Object.entries(fields)) {
    if (typeof value !== 'string') continue;
    bytes[name as keyof RecordFields] = Buffer.from(value, 'utf8');
    params[name] = value;
  }
  return { ...params, hash: computeHash(bytes, secret) };
}

/** The job id at the end of a status path such as `/billing/api/jobs/<id>`. */
function jobIdOfPath(location: string | null): string | undefined {
  if (location === null) return undefined;
  return new URL(location, 'http://base.invalid').pathname.split('/').pop() || undefined;
}

/** A network error's code (ECONNREFUSED, ECONNRESET, ...) or `timeout`. */
function networkCode(error: unknown): string {
  if (error instanceof TimeoutError) return 'timeout';
  const cause = (error as { cause?: { code?: unknown } }).cause;
  return typeof cause?.code === 'string' ? cause.code : 'network error';
}

/** The wait an answer's Retry-After asks for, in ms. */
function askedWaitMs(headers: Headers): number | undefined {
  return retryAfterMs(headers.get('retry-after') ?? undefined, Date.now());
}

/** 429, and a 5xx from the service or a proxy that is not a job's final failure. */
function isBusy(exchange: Exchange): boolean {
  if (exchange.status === 429) return true;
  if (![502, 503, 504].includes(exchange.status)) return false;
  const outcome = readOutcome(exchange.body);
  return outcome === undefined || !isJobFailedText(outcome.text);
}

export class PhonebookClient {
  private readonly slots: Semaphore;
  private readonly settings: typeof DEFAULTS;

  constructor(private readonly options: PhonebookClientOptions) {
    this.settings = { ...DEFAULTS };
    for (const name of Object.keys(DEFAULTS) as Array<keyof typeof DEFAULTS>) {
      this.settings[name] = options[name] ?? DEFAULTS[name];
    }
    this.slots = new Semaphore(this.settings.maxConcurrentRequests);
  }

  /** The params of a call by this client's user, signed with its secret. */
  sign(fields: RecordFields): Record<string, string> {
    return signCall(this.options.username, fields, this.options.secret);
  }

  /** Sends one call; answers done, or pending with the job's status location. */
  async submit(fields: RecordFields, options: SubmitOptions = {}): Promise<CallAnswer> {
    const headers: Record<string, string> = {
      'content-type': 'application/x-www-form-urlencoded',
      accept: 'text/xml',
    };
    if (options.mode === 'async') headers.prefer = 'respond-async';
    if (options.idempotencyKey !== undefined) {
      headers['idempotency-key'] = options.idempotencyKey;
    }
    const request: HttpRequest = {
      method: 'POST',
      url: new URL(CREATE_PATH, this.options.baseUrl).toString(),
      headers,
      body: new URLSearchParams(this.sign(fields)).toString(),
    };

    const retryNetwork = options.idempotencyKey !== undefined;
    const exchange = await this.send(request, options.signal, retryNetwork);
    return this.readAnswer(exchange, request.url, undefined);
  }

  /** Polls a pending call's job until it is done, honouring each Retry-After. */
  async awaitResult(
    pending: PendingAnswer,
    options: { signal?: AbortSignal } = {},
  ): Promise<DoneAnswer> {
    const request: HttpRequest = {
      method: 'GET',
      url: pending.location,
      headers: { accept: 'text/xml' },
    };
    let waitMs = pending.retryAfterMs;

    for (;;) {
      await sleep(waitMs, undefined, { signal: options.signal });
      const exchange = await this.send(request, options.signal, true);
      const answer = this.readAnswer(exchange, request.url, pending.jobId);
      if (answer.state === 'done') return answer;

      const slowerMs = Math.min(this.settings.maxWaitMs, waitMs * POLL_GROWTH);
      waitMs = Math.max(answer.retryAfterMs, slowerMs);
    }
  }

  /** Submits a call and waits for its result, however long the job stays queued. */
  async create(fields: RecordFields, options: SubmitOptions = {}): Promise<DoneAnswer> {
    const answer = await this.submit(fields, options);
    if (answer.state === 'done') return answer;
    return this.awaitResult(answer, { signal: options.signal });
  }

  private readAnswer(
    exchange: Exchange,
    url: string,
    knownJobId: string | undefined,
  ): CallAnswer {
    const { status, headers, body } = exchange;
    const outcome = readOutcome(body);

    if (status === 202) {
      const location = headers.get('location');
      const jobId = jobIdOfPath(location);
      if (location === null || jobId === undefined) throw this.unexpected(status, url);
      return {
        state: 'pending',
        jobId,
        location: new URL(location, this.options.baseUrl).toString(),
        retryAfterMs: askedWaitMs(headers) ?? DEFAULT_RETRY_AFTER_MS,
      };
    }
    if (status === 404 && knownJobId !== undefined) {
      throw new PhonebookClientError('job-not-found', `job ${knownJobId} was not found`);
    }
    if (outcome === undefined || !this.isFinal(status, outcome)) {
      throw this.unexpected(status, url);
    }

    const jobId = knownJobId ?? jobIdOfPath(headers.get('content-location'));
    const final: Outcome = status === 503 ? { ...outcome, kind: 'failed' } : outcome;
    return { state: 'done', jobId, httpStatus: status, xml: body, outcome: final };
  }

  /**
   * 200 is a result; a 503 `Job failed` is a job's final failure; another 4xx with an
   * XML error is the service refusing the call (422 for a reused key, 400 for a bad
   * one). 404 and 405 mean the URL is not this service's API.
   */
  private isFinal(status: number, outcome: Outcome): boolean {
    if (status === 200) return true;
    if (status === 503) return isJobFailedText(outcome.text);
    return status >= 400 && status < 500 && status !== 404 && status !== 405;
  }

  private unexpected(status: number, url: string): PhonebookClientError {
    const { origin, pathname } = new URL(url);
    return new PhonebookClientError(
      'unexpected-answer',
      `unexpected answer HTTP ${status} from ${origin}${pathname}`,
    );
  }

  /**
   * Sends a request, waiting out 429, 503 and network errors. A network error after the
   * request may have reached the service is retried only when `retryNetwork` says a
   * repeat is harmless (a status read, a call with an Idempotency-Key).
   */
  private async send(
    request: HttpRequest,
    signal: AbortSignal | undefined,
    retryNetwork: boolean,
  ): Promise<Exchange> {
    const deadline = Date.now() + this.settings.retryForMs;

    for (let retry = 0; ; retry++) {
      const attempt = await this.slots.run(() => this.attempt(request, signal));
      if (attempt.kind === 'answer' && !isBusy(attempt.exchange)) return attempt.exchange;
      // A refused connection sent nothing, so even a call without a key may go again.
      const safe =
        retryNetwork || (attempt.kind === 'network' && attempt.code === 'ECONNREFUSED');
      if (attempt.kind === 'network' && !safe) throw this.gaveUp(attempt, request);

      const waitMs = this.retryWaitMs(attempt, retry);
      if (Date.now() + waitMs > deadline) throw this.gaveUp(attempt, request);
      await sleep(waitMs, undefined, { signal });
    }
  }

  /** The longer of the backoff step and the answer's Retry-After, plus some jitter. */
  private retryWaitMs(attempt: Attempt, retry: number): number {
    const backoffMs = Math.min(this.settings.maxWaitMs, FIRST_BACKOFF_MS * 2 ** retry);
    const askedMs =
      attempt.kind === 'answer' ? askedWaitMs(attempt.exchange.headers) : undefined;
    // Jitter spreads the retries of many rows refused in the same rate-limit window.
    return Math.max(backoffMs, askedMs ?? 0) * (1 + Math.random() * 0.2);
  }

  private gaveUp(attempt: Attempt, request: HttpRequest): PhonebookClientError {
    const { origin } = new URL(request.url);
    if (attempt.kind === 'network') {
      return new PhonebookClientError(
        'unreachable',
        `cannot reach the service at ${origin} (${attempt.code})`,
      );
    }
    return new PhonebookClientError(
      'busy',
      `the service at ${origin} answered HTTP ${attempt.exchange.status} to every retry`,
    );
  }

  /** One HTTP exchange, bounded by requestTimeoutMs; the caller's abort is rethrown. */
  private async attempt(
    request: HttpRequest,
    signal: AbortSignal | undefined,
  ): Promise<Attempt> {
    const bounded = signalWithTimeout(signal, this.settings.requestTimeoutMs);
    try {
      const response = await fetch(request.url, {
        method: request.method,
        headers: request.headers,
        body: request.body,
        redirect: 'manual',
        signal: bounded.signal,
      });
      const body = await response.text();
      return {
        kind: 'answer',
        exchange: { status: response.status, headers: response.headers, body },
      };
    } catch (error) {
      if (signal?.aborted) throw signal.reason;
      return { kind: 'network', code: networkCode(bounded.signal.reason ?? error) };
    } finally {
      bounded.clear();
    }
  }
}
