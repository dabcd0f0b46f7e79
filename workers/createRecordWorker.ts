import { Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Knex } from 'knex';
import type { Logger } from 'pino';
import type { Config } from '../src/config.ts';
import { deleteExpiredIdempotencyKeys } from '../src/db/deleteExpiredIdempotencyKeys.ts';
import { deleteExpiredResults } from '../src/db/deleteExpiredResults.ts';
import { classifyJobError, TransientError } from '../src/errors.ts';
import { errorFacts } from '../src/log.ts';
import { answerText } from '../src/metrics/labels.ts';
import type { ServiceMetrics } from '../src/metrics/serviceMetrics.ts';
import { processCalls } from '../src/processCall.ts';
import {
  CREATE_QUEUE,
  enqueueDelivery,
  workerOptions,
  type CREATE_JOB,
  type DeliveryQueue,
} from '../src/queue.ts';
import type { CallJobData, CallJobResult } from '../src/types.ts';
import { CallBatcher } from './callBatcher.ts';
import { closeWorker, RunningAttempts } from './closeWorker.ts';

type CreateJob = Job<CallJobData, CallJobResult, typeof CREATE_JOB>;

const RESULT_CLEANUP_INTERVAL_MS = 60 * 60 * 1000;
/**
 * Batches of jobs stored at once, each by a statement of its own. Two keep a batch
 * being stored while the next one is read, and a batch held up by a lock (a Global
 * record's speed dial, a row an operator locked) holds up half of the worker's jobs,
 * not all. More made smaller batches under sync load, at more cost per job: 32 sync
 * clients were answered about 10% faster with two than with four (issue 7).
 */
export const BATCHES_IN_FLIGHT = 2;

export interface CreateWorkerDeps {
  config: Config;
  db: Knex;
  log: Logger;
  connection: Redis;
  /** Where a stored result's webhook is queued. */
  deliveryQueue: DeliveryQueue;
  metrics: ServiceMetrics;
}

export interface RunningWorker {
  worker: Worker<CallJobData, CallJobResult, typeof CREATE_JOB>;
  /** Attempts this process is running now. */
  running: () => number;
  close: (graceMs: number) => Promise<void>;
}

/** How many attempts BullMQ gives the job in all. */
function attemptsOf(job: CreateJob): number {
  return job.opts.attempts ?? 1;
}

/** Deletes results and idempotency keys past their retention. */
export async function deleteExpired({
  db,
  config,
  log,
}: Pick<CreateWorkerDeps, 'db' | 'config' | 'log'>): Promise<void> {
  const keys = await deleteExpiredIdempotencyKeys(db, config.IDEMPOTENCY_KEY_HOURS);
  const results = await deleteExpiredResults(db, config.RESULT_RETENTION_HOURS);
  log.info({ keys, results }, 'expired rows deleted');
}

/**
 * Runs jobs of the create queue: every MOR check, then the record, the result and the
 * delivery row in one transaction (one statement), with the other jobs the process
 * runs at that moment (CallBatcher). MOR errors are results (the job completes with their
 * XML); only transient faults throw and are retried with backoff by BullMQ.
 *
 * A delivery is queued after the commit, on every attempt that finds it pending, the
 * first or a re-run that found the stored result: the delivery job's id is derived from
 * this job's, so queueing it again adds nothing. Should this process die between the
 * commit and the queueing, the re-run of this job or the delivery worker's sweep
 * queues it.
 */
export function startCreateWorker(deps: CreateWorkerDeps): RunningWorker {
  const { config, db, log, metrics } = deps;
  const batcher = new CallBatcher(
    (jobs) => processCalls(db, jobs, config.RESULT_RETENTION_HOURS),
    { maxBatch: config.WORKER_BATCH_MAX, maxInFlight: BATCHES_IN_FLIGHT },
  );

  async function runJob(job: CreateJob): Promise<CallJobResult> {
    const started = performance.now();
    const seconds = () => (performance.now() - started) / 1000;
    const jobLog = log.child({ jobId: job.id, attempt: job.attemptsMade + 1 });

    try {
      const processed = await batcher.process({
        jobId: job.id as string,
        data: job.data,
      });
      if (processed.deliveryPending) {
        await enqueueDelivery(deps.deliveryQueue, config, job.id as string);
      }
      const text = answerText(processed.resultXml);
      if (processed.firstAttempt) metrics.countAnswer(text);
      metrics.observeJob(CREATE_QUEUE, 'completed', seconds());
      jobLog.info(
        {
          outcome: text,
          firstAttempt: processed.firstAttempt,
          deliveryPending: processed.deliveryPending,
          durationMs: Math.round(performance.now() - started),
        },
        'job',
      );
      return processed.resultXml;
    } catch (error) {
      const classified = classifyJobError(error);
      const retry =
        classified instanceof TransientError && job.attemptsMade + 1 < attemptsOf(job);
      metrics.observeJob(CREATE_QUEUE, retry ? 'retry' : 'failed', seconds());
      jobLog.warn(
        {
          err: errorFacts(error),
          retry,
          durationMs: Math.round(performance.now() - started),
        },
        'job attempt failed',
      );
      throw classified;
    }
  }

  const attempts = new RunningAttempts();

  const worker = new Worker<CallJobData, CallJobResult, typeof CREATE_JOB>(
    CREATE_QUEUE,
    attempts.track(runJob),
    {
      ...workerOptions(config, deps.connection),
      concurrency: config.WORKER_CONCURRENCY,
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

  return {
    worker,
    running: () => attempts.size,
    close: async (graceMs) => {
      clearInterval(cleanup);
      await closeWorker(worker, { graceMs, log, attempts, connection: deps.connection });
    },
  };
}
