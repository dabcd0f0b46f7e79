import { Queue, type JobsOptions } from 'bullmq';
import { Redis, type RedisOptions } from 'ioredis';
import type { Config } from './config.ts';
import type { CallJobData, CallJobResult } from './types.ts';

/** The queue of calls to `phonebook_record_create`. */
export const CREATE_QUEUE = 'phonebook-record-create';

/** The job name on the create queue; there is one kind of job. */
export const CREATE_JOB = 'phonebook_record_create';

export type CreateQueue = Queue<CallJobData, CallJobResult, typeof CREATE_JOB>;

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

  return new Redis(redisUrl, {
    ...options,
    retryStrategy: (times) => Math.min(times * 200, 2_000),
  });
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

export function openCreateQueue(config: Config, connection: Redis): CreateQueue {
  return new Queue(CREATE_QUEUE, { connection, prefix: config.QUEUE_PREFIX });
}
