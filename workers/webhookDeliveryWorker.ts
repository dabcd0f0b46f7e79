import { Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Knex } from 'knex';
import type { Logger } from 'pino';
import type { Config } from '../src/config.ts';
import { claimUnsweptDeliveries } from '../src/db/claimUnsweptDeliveries.ts';
import { finishDelivery } from '../src/db/finishDelivery.ts';
import { deliverWebhook, type AttemptReport } from '../src/deliverWebhook.ts';
import { classifyJobError, RetryLaterError, TransientError } from '../src/errors.ts';
import { errorFacts } from '../src/log.ts';
import { webhookOutcome } from '../src/metrics/labels.ts';
import type { AttemptEnd, ServiceMetrics } from '../src/metrics/serviceMetrics.ts';
import { DELIVERY_REASONS } from '../src/messages.ts';
import {
  DELIVERY_QUEUE,
  enqueueDelivery,
  workerOptions,
  type DELIVERY_JOB,
  type DeliveryQueue,
} from '../src/queue.ts';
import type { DeliveryJobData } from '../src/types.ts';
import { AddressPolicy } from '../src/webhook/addressPolicy.ts';
import type { HostLookup } from '../src/webhook/callbackTarget.ts';
import { closeWorker, RunningAttempts } from './closeWorker.ts';

type DeliveryJob = Job<DeliveryJobData, void, typeof DELIVERY_JOB>;

export interface DeliveryWorkerDeps {
  config: Config;
  db: Knex;
  log: Logger;
  connection: Redis;
  /** The delivery queue, for the sweep to queue pending deliveries that lost their job. */
  queue: DeliveryQueue;
  /** Resolves callback hosts; the machine's resolver unless a test injects its own. */
  lookupHost: HostLookup;
  metrics: ServiceMetrics;
}

export interface RunningDeliveryWorker {
  worker: Worker<DeliveryJobData, void, typeof DELIVERY_JOB>;
  /** Attempts this process is running now. */
  running: () => number;
  close: (graceMs: number) => Promise<void>;
}

/**
 * Queues pending deliveries that have not been queued for a sweep interval: their
 * create worker died between committing the result and queueing the delivery, or Redis
 * lost the job. Bounded to one batch per run; a delivery whose job exists is not queued
 * twice (the job id is derived from the create job's).
 */
export async function sweepDeliveries(
  deps: Pick<DeliveryWorkerDeps, 'config' | 'db' | 'log' | 'queue'>,
): Promise<number> {
  const { config, db, log, queue } = deps;
  const jobIds = await claimUnsweptDeliveries(
    db,
    config.WEBHOOK_SWEEP_MS,
    config.WEBHOOK_SWEEP_BATCH,
  );
  for (const jobId of jobIds) await enqueueDelivery(queue, config, jobId);

  if (jobIds.length > 0) log.info({ queued: jobIds.length }, 'delivery sweep');
  return jobIds.length;
}

function reportFields(report: AttemptReport) {
  const { outcome } = report;
  return {
    state: report.state,
    statusCode: outcome?.kind === 'response' ? outcome.statusCode : undefined,
    error: outcome?.kind === 'error' ? outcome.errorClass : undefined,
    durationMs: report.durationMs,
    retryInMs: report.retryDelayMs,
  };
}

/**
 * Runs delivery jobs: one attempt per run. A retry is the job failing with
 * RetryLaterError, which BullMQ delays by the error's own delay (the schedule's step or
 * the receiver's Retry-After), so the retry survives any restart of this process.
 */
export function startDeliveryWorker(deps: DeliveryWorkerDeps): RunningDeliveryWorker {
  const { config, db, log } = deps;
  const policy = new AddressPolicy(config.WEBHOOK_ALLOWLIST);
  const deliveryDeps = { db, config, policy, lookupHost: deps.lookupHost };

  async function attempt(job: DeliveryJob, jobLog: Logger): Promise<AttemptReport> {
    try {
      return await deliverWebhook(deliveryDeps, job.data.jobId, job.attemptsMade + 1);
    } catch (error) {
      const classified = classifyJobError(error);
      jobLog.warn({ err: errorFacts(error) }, 'delivery attempt failed');
      if (classified instanceof TransientError) throw classified;

      await finishDelivery(db, job.data.jobId, 'failed', DELIVERY_REASONS.internal);
      throw classified;
    }
  }

  async function runJob(job: DeliveryJob): Promise<void> {
    const jobLog = log.child({ jobId: job.data.jobId, attempt: job.attemptsMade + 1 });
    const report = await attempt(job, jobLog);
    jobLog.info(reportFields(report), 'delivery attempt');

    const outcome = webhookOutcome(report);
    if (outcome !== undefined) deps.metrics.countWebhookAttempt(outcome);
    if (report.retryDelayMs !== undefined) throw new RetryLaterError(report.retryDelayMs);
  }

  /** Times every run, by how it ended: done, to run again later, or failed for good. */
  async function timedRun(job: DeliveryJob): Promise<void> {
    const started = performance.now();
    const observe = (outcome: AttemptEnd) =>
      deps.metrics.observeJob(
        DELIVERY_QUEUE,
        outcome,
        (performance.now() - started) / 1000,
      );
    try {
      await runJob(job);
      observe('completed');
    } catch (error) {
      const retries = error instanceof RetryLaterError || error instanceof TransientError;
      const left = job.attemptsMade + 1 < (job.opts.attempts ?? 1);
      observe(retries && left ? 'retry' : 'failed');
      throw error;
    }
  }

  const attempts = new RunningAttempts();
  const worker = new Worker<DeliveryJobData, void, typeof DELIVERY_JOB>(
    DELIVERY_QUEUE,
    attempts.track(timedRun),
    {
      ...workerOptions(config, deps.connection),
      concurrency: config.WEBHOOK_CONCURRENCY,
      settings: {
        // A transient fault (database down) waits the schedule's step for its attempt.
        backoffStrategy: (attemptsMade, _type, error) =>
          error instanceof RetryLaterError
            ? error.delayMs
            : (config.WEBHOOK_BACKOFF_MS[attemptsMade - 1] ?? 0),
      },
    },
  );
  worker.on('error', (error) => log.warn({ err: errorFacts(error) }, 'worker error'));

  let sweeping = false;
  const sweep = setInterval(() => {
    if (sweeping) return;
    sweeping = true;
    sweepDeliveries(deps)
      .catch((error: unknown) =>
        log.warn({ err: errorFacts(error) }, 'delivery sweep failed'),
      )
      .finally(() => (sweeping = false));
  }, config.WEBHOOK_SWEEP_MS);
  sweep.unref();

  return {
    worker,
    running: () => attempts.size,
    close: async (graceMs) => {
      clearInterval(sweep);
      await closeWorker(worker, { graceMs, log, attempts, connection: deps.connection });
    },
  };
}
