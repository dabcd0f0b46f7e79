import { UnrecoverableError } from 'bullmq';

/**
 * Faults, as opposed to answers. A MOR error is an answer: the job completes with its
 * XML. A fault is either transient (retry the job later, with backoff) or permanent
 * (fail the job at once: retrying cannot help). Error messages here name a cause class
 * only, never data: BullMQ keeps them as the job's failed reason.
 */

export type CauseClass = 'database unavailable' | 'queue unavailable' | 'internal error';

/** Retry later: the job failed for a reason outside the call itself. */
export class TransientError extends Error {
  constructor(
    readonly causeClass: CauseClass,
    options?: { cause?: unknown },
  ) {
    super(causeClass, options);
    this.name = 'TransientError';
  }
}

/**
 * SQLSTATE codes (PostgreSQL manual, appendix A) and classes worth a retry.
 * A two-character entry is a whole class.
 */
const RETRYABLE_SQLSTATES: Record<string, string> = {
  '08': 'connection exception: the server went away or refused us',
  '40001': 'serialization_failure: a concurrent transaction won, run again',
  '40P01': 'deadlock_detected: one side is aborted, run again',
  '53': 'insufficient resources: disk, memory or connections exhausted',
  '57P01': 'admin_shutdown: the server is stopping',
  '57P02': 'crash_shutdown: the server crashed',
  '57P03': 'cannot_connect_now: the server is starting',
  '58': 'system error: I/O error outside PostgreSQL',
};

/** Node socket errors that mean the database or Redis could not be reached. */
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
]);

function errorCode(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : '';
}

function isRetryableDatabaseError(error: unknown): boolean {
  const code = errorCode(error);
  if (code in RETRYABLE_SQLSTATES || code.slice(0, 2) in RETRYABLE_SQLSTATES) return true;
  if (NETWORK_CODES.has(code)) return true;

  const name = (error as { name?: unknown } | null)?.name;
  const message = error instanceof Error ? error.message : '';
  return (
    name === 'KnexTimeoutError' ||
    /Connection terminated|connection (?:is )?closed|Client has encountered a connection error/i.test(
      message,
    )
  );
}

/**
 * Normalises anything a job step threw: a database fault becomes a TransientError,
 * anything else is a bug or an unknown fault and fails the job for good.
 */
export function classifyJobError(error: unknown): Error {
  if (error instanceof TransientError || error instanceof UnrecoverableError)
    return error;
  if (isRetryableDatabaseError(error)) {
    return new TransientError('database unavailable', { cause: error });
  }
  return new UnrecoverableError('internal error');
}

/**
 * Thrown by a delivery job to have BullMQ run it again after `delayMs`: the retry
 * schedule's step, or longer when the receiver sent Retry-After. The delivery worker's
 * backoff strategy reads the delay from it.
 */
export class RetryLaterError extends Error {
  constructor(readonly delayMs: number) {
    super('retry later');
    this.name = 'RetryLaterError';
  }
}
