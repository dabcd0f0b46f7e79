import { Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Knex } from 'knex';
import type { Logger } from 'pino';
import type { Config } from '../src/config.ts';
import { deleteExpiredIdempotencyKeys } from '../src/db/deleteExpiredIdempotencyKeys.ts';
import { deleteExpiredResults } from '../src/db/deleteExpiredResults.ts';
import { classifyJobError } from '../src/errors.ts';
import { errorFacts } from '../src/log.ts';
import { processCall } from '../src/processCall.ts';
import { CREATE_QUEUE, type CREATE_JOB } from '../src/queue.ts';
import type { CallJobData, CallJobResult } from '../src/types.ts';

type CreateJob = Job<CallJobData, CallJobResult, typeof CREATE_JOB>;

const RESULT_CLEANUP_INTERVAL_MS = 60 * 60 * 1000;
const OUTCOME = /<(?:success|error)>([^<]*)</;

export interface CreateWorkerDeps {
  config: Config;
  db: Knex;
  log: Logger;
  connection: Redis;
}

export interface RunningWorker {
  worker: Worker<CallJobData, CallJobResult, typeof CREATE_JOB>;
  close: (graceMs: number) => Promise<void>;
}

/** Deletes results and idempotency keys past their retention. */
export async function deleteExpired({
  db,
  config,
  log,
}: CreateWorkerDeps): Promise<void> {
  const keys = await deleteExpiredIdempotencyKeys(db, config.IDEMPOTENCY_KEY_HOURS);
  const results = await deleteExpiredResults(db, config.RESULT_RETENTION_HOURS);
  log.info({ keys, results }, 'expired rows deleted');
}

/**
 * Runs jobs of the create queue: every MOR check, then the record and the result in
 * one transaction. MOR errors are results (the job completes with their XML); only
 * transient faults throw and are retried with backoff by BullMQ.
 */
export function startCreateWorker(deps: CreateWorkerDeps): RunningWorker {
  const { config, db, log } = deps;

  async function runJob(job: CreateJob): Promise<CallJobResult> {
    const started = performance.now();
    const jobLog = log.child({ jobId: job.id, attempt: job.attemptsMade + 1 });

    try {
      const processed = await processCall(
        db,
        job.id as string,
        job.data,
        config.RESULT_RETENTION_HOURS,
      );
      jobLog.info(
        {
          outcome: OUTCOME.exec(processed.resultXml)?.[1],
          firstAttempt: processed.firstAttempt,
          durationMs: Math.round(performance.now() - started),
        },
        'job',
      );
      return processed.resultXml;
    } catch (error) {
      const classified = classifyJobError(error);
      jobLog.warn(
        {
          err: errorFacts(error),
          retry: classified.name === 'TransientError',
          durationMs: Math.round(performance.now() - started),
        },
        'job attempt failed',
      );
      throw classified;
    }
  }

  // Attempts in progress, so a shutdown can wait for them without BullMQ (see close).
  const running = new Set<Promise<CallJobResult>>();
  function trackJob(job: CreateJob): Promise<CallJobResult> {
    const attempt = runJob(job);
    running.add(attempt);
    const forget = () => running.delete(attempt);
    attempt.then(forget, forget);
    return attempt;
  }

  const worker = new Worker<CallJobData, CallJobResult, typeof CREATE_JOB>(
    CREATE_QUEUE,
    trackJob,
    {
      connection: deps.connection,
      prefix: config.QUEUE_PREFIX,
      concurrency: config.WORKER_CONCURRENCY,
      lockDuration: config.WORKER_LOCK_MS,
      stalledInterval: config.WORKER_STALLED_INTERVAL_MS,
      maxStalledCount: config.WORKER_MAX_STALLED_COUNT,
    },
  );

  // A job that failed for good stays in Redis for its status; its params need not.
  worker.on('failed', (job) => {
    if (job === undefined) return;
    void job
      .getState()
      .then((state) =>
        state === 'failed' ? job.updateData({ ...job.data, params: {} }) : undefined,
      )
      .catch((error: unknown) =>
        log.warn({ jobId: job.id, err: errorFacts(error) }, 'scrub failed job'),
      );
  });
  worker.on('error', (error) => log.warn({ err: errorFacts(error) }, 'worker error'));

  const cleanup = setInterval(() => {
    void deleteExpired(deps).catch((error: unknown) =>
      log.warn({ err: errorFacts(error) }, 'cleanup of expired rows failed'),
    );
  }, RESULT_CLEANUP_INTERVAL_MS);
  cleanup.unref();

  /**
   * Stops taking jobs and waits, within the grace period, for the attempts in
   * progress; then lets BullMQ report them and quit. While Redis is away BullMQ's
   * close never resolves (ioredis emits no `end` for a connection that is between
   * reconnects), and nothing can be reported anyway: a job whose attempt finished
   * then runs again later and returns its stored result. So the wait for BullMQ is
   * skipped when Redis is not connected, and cut off when the grace runs out.
   */
  async function close(graceMs: number): Promise<void> {
    clearInterval(cleanup);
    const deadline = Date.now() + graceMs;
    const closing = worker.close();
    closing.catch((error: unknown) =>
      log.warn({ err: errorFacts(error) }, 'worker close failed'),
    );

    const finished = await settledWithin(Promise.allSettled(running), graceMs);
    if (!finished) {
      log.warn(
        { graceMs, active: running.size },
        'active jobs outlived the grace period',
      );
    } else if (deps.connection.status === 'ready') {
      if (await settledWithin(closing, deadline - Date.now())) return;
      log.warn({ graceMs }, 'worker did not stop within the grace period');
    }
    deps.connection.disconnect();
  }

  return { worker, close };
}

/** True when the promise settled within the time, false when the time ran out first. */
async function settledWithin(promise: Promise<unknown>, timeoutMs: number) {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), Math.max(0, timeoutMs));
  });
  const settled = promise.then(
    () => true as const,
    () => true as const,
  );
  try {
    return await Promise.race([settled, timedOut]);
  } finally {
    clearTimeout(timer);
  }
}
