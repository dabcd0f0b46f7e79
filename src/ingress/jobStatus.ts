import type { Knex } from 'knex';
import { findResult } from '../db/findResult.ts';
import type { CreateQueue } from '../queue.ts';
import { withTimeout } from '../timeout.ts';
import type { JobState } from '../types.ts';

/** What is known of a job: pending in Redis, done in Postgres, failed, or unknown. */
export type JobStatus =
  | { kind: 'pending'; state: JobState; createdAt: Date | undefined }
  | { kind: 'completed'; resultXml: string; createdAt: Date; finishedAt: Date }
  | {
      kind: 'failed';
      failedReason: string;
      createdAt: Date | undefined;
      finishedAt: Date | undefined;
    }
  | { kind: 'unknown' }
  | { kind: 'queue-unavailable' };

const PENDING_STATES: Record<string, JobState> = {
  waiting: 'waiting',
  'waiting-children': 'waiting',
  prioritized: 'waiting',
  active: 'active',
  delayed: 'delayed',
};

const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

export function isJobId(value: string): boolean {
  return UUID_V4.test(value);
}

async function queueState(
  queue: CreateQueue,
  jobId: string,
  redis: RedisAccess,
): Promise<string | undefined> {
  if (!redis.connected()) return undefined;
  try {
    return await withTimeout(queue.getJobState(jobId), redis.timeoutMs);
  } catch {
    return undefined;
  }
}

/**
 * Whether Redis may be asked, and for how long. BullMQ waits for a connection that is
 * away instead of failing, so a status read asks only while connected, and bounded.
 */
export interface RedisAccess {
  connected: () => boolean;
  timeoutMs: number;
}

/**
 * Redis is asked first: a result is committed to Postgres before its job leaves Redis,
 * so a job Redis no longer holds is either stored, failed, or unknown. Without Redis a
 * stored result is still answered; anything else is `queue-unavailable`.
 */
export async function readJobStatus(
  queue: CreateQueue,
  db: Knex,
  jobId: string,
  retentionHours: number,
  redis: RedisAccess,
): Promise<JobStatus> {
  const state = await queueState(queue, jobId, redis);
  const pending = state === undefined ? undefined : PENDING_STATES[state];
  const readJob = () =>
    withTimeout(queue.getJob(jobId), redis.timeoutMs).catch(() => undefined);
  if (pending !== undefined) {
    const job = await readJob();
    return {
      kind: 'pending',
      state: pending,
      createdAt: job ? new Date(job.timestamp) : undefined,
    };
  }

  const stored = await findResult(db, jobId, retentionHours);
  if (stored !== undefined) {
    return {
      kind: 'completed',
      resultXml: stored.resultXml,
      createdAt: stored.acceptedAt,
      finishedAt: stored.finishedAt,
    };
  }

  if (state === 'failed') {
    const job = await readJob();
    return {
      kind: 'failed',
      failedReason: job?.failedReason ?? 'internal error',
      createdAt: job ? new Date(job.timestamp) : undefined,
      finishedAt: job?.finishedOn ? new Date(job.finishedOn) : undefined,
    };
  }

  return state === undefined ? { kind: 'queue-unavailable' } : { kind: 'unknown' };
}
