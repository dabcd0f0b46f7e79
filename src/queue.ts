import {
  MetricsTime,
  Queue,
  type JobsOptions,
  type QueueOptions,
  type WorkerOptions,
} from 'bullmq';
import { Redis, type RedisOptions } from 'ioredis';
import type { Config } from './config.ts';
import { TransientError } from './errors.ts';
import { withTimeout } from './timeout.ts';
import type { CallJobData, CallJobResult, DeliveryJobData } from './types.ts';

/** The queue of calls to `phonebook_record_create`. */
export const CREATE_QUEUE = 'phonebook-record-create';

/** The job name on the create queue; there is one kind of job. */
export const CREATE_JOB = 'phonebook_record_create';

export type CreateQueue = Queue<CallJobData, CallJobResult, typeof CREATE_JOB>;

/** The queue of webhook deliveries, under the same prefix as the create queue. */
export const DELIVERY_QUEUE = 'webhook-deliveries';

/** The job name on the delivery queue; there is one kind of job. */
export const DELIVERY_JOB = 'webhook_delivery';

/** The backoff type of delivery jobs: the delivery worker's own strategy answers it. */
export const DELIVERY_BACKOFF = 'webhook-schedule';

export type DeliveryQueue = Queue<DeliveryJobData, void, typeof DELIVERY_JOB>;

/**
 * A Redis connection for BullMQ. A producer fails fast while Redis is away (no offline
 * queue), so the ingress can answer 503 at once; a worker or event reader waits for
 * Redis to come back (BullMQ requires `maxRetriesPerRequest: null` there).
 */
export function connectRedis(redisUrl: string, role: 'producer' | 'consumer'): Redis {
  const options: RedisOptions =
    role === 'producer'
      ? { enableOfflineQueue: false, maxRetriesPerRequest: 1, connectTimeout: 2_000 }
      : { maxRetriesPerRequest: null, connectTimeout: 2_000 };

  const redis = new Redis(redisUrl, {
    ...options,
    retryStrategy: (times) => Math.min(times * 200, 2_000),
  });
  // A connection error also fails the commands that meet it, and readiness reports
  // it; an 'error' event without a listener would crash the process instead.
  redis.on('error', () => {});
  return redis;
}

/**
 * Job options. Completed jobs leave Redis at once (the result lives in Postgres, and
 * the call's params must not outlive the job); failed ones stay for the retention
 * period so their status can be read.
 */
export function createJobOptions(config: Config, jobId: string): JobsOptions {
  return {
    jobId,
    attempts: config.JOB_ATTEMPTS,
    backoff: { type: 'exponential', delay: config.JOB_BACKOFF_MS },
    removeOnComplete: true,
    removeOnFail: { age: config.RESULT_RETENTION_HOURS * 3600 },
  };
}

/**
 * A queue's options. Every process opens its queues with these: BullMQ keeps the
 * event stream's length in the queue's meta key, which each opening overwrites.
 */
function queueOptions(config: Config, connection: Redis): QueueOptions {
  return {
    connection,
    prefix: config.QUEUE_PREFIX,
    streams: { events: { maxLen: config.QUEUE_EVENTS_MAX_LEN } },
  };
}

export function openCreateQueue(config: Config, connection: Redis): CreateQueue {
  return new Queue(CREATE_QUEUE, queueOptions(config, connection));
}

/**
 * The options every worker of the service shares: its connection and prefix, the job
 * lock and the stalled-job check (see WORKER_LOCK_MS), and BullMQ's own metrics. Each
 * worker adds its concurrency and settings.
 */
export function workerOptions(config: Config, connection: Redis): WorkerOptions {
  return {
    connection,
    prefix: config.QUEUE_PREFIX,
    lockDuration: config.WORKER_LOCK_MS,
    stalledInterval: config.WORKER_STALLED_INTERVAL_MS,
    maxStalledCount: config.WORKER_MAX_STALLED_COUNT,
    // Feeds the completed and failed totals of BullMQ's own Prometheus export.
    metrics: { maxDataPoints: MetricsTime.ONE_HOUR },
  };
}

/**
 * A delivery's job id, derived from the create job's id. BullMQ keeps one job per id,
 * so adding a delivery that is already queued, delayed or running adds nothing
 * (custom ids may not contain `:`).
 */
export function deliveryJobId(jobId: string): string {
  return `delivery-${jobId}`;
}

/**
 * Delivery job options: one attempt per step of the retry schedule plus the first.
 * A delivery job leaves Redis when it ends, either way: the delivery row in Postgres
 * is the truth, and the sweep queues a pending row whose job is gone.
 */
export function deliveryJobOptions(config: Config, jobId: string): JobsOptions {
  return {
    jobId: deliveryJobId(jobId),
    attempts: config.WEBHOOK_BACKOFF_MS.length + 1,
    backoff: { type: DELIVERY_BACKOFF },
    removeOnComplete: true,
    removeOnFail: true,
  };
}

export function openDeliveryQueue(config: Config, connection: Redis): DeliveryQueue {
  return new Queue(DELIVERY_QUEUE, queueOptions(config, connection));
}

/** Queues a job's delivery; a no-op when its job exists. Redis faults are transient. */
export async function enqueueDelivery(
  queue: DeliveryQueue,
  config: Config,
  jobId: string,
): Promise<void> {
  try {
    await queue.add(DELIVERY_JOB, { jobId }, deliveryJobOptions(config, jobId));
  } catch (error) {
    throw new TransientError('queue unavailable', { cause: error });
  }
}

/**
 * Closes a queue opened on a shared connection, within the bound. A BullMQ 5.81 queue
 * closed before its first connect finished drops its connection's listeners, and that
 * connect, failing once the shared connection is disconnected, is then an `error` event
 * nobody listens to: an uncaught exception. So the close first waits, within the same
 * bound, for the queue to be ready; only a Redis that never answered is left to chance,
 * in a process that is stopping anyway.
 */
export async function closeQueue(queue: Queue, timeoutMs: number): Promise<void> {
  await withTimeout(queue.waitUntilReady(), timeoutMs).catch(() => undefined);
  await withTimeout(queue.close(), timeoutMs).catch(() => undefined);
}
