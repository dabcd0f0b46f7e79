import type { Knex } from 'knex';
import type { Logger } from 'pino';
import { findResults } from '../db/findResults.ts';
import type { QueueEventReader } from './queueEventReader.ts';

/**
 * Holds sync requests until their job's result is stored. BullMQ's queue events are
 * the fast path, but they are best effort (a reconnect can miss one), so a single
 * timer also reads the stored results of every request waiting longer than one poll
 * interval: the stored result is the truth (../shared/DESIGN.md section 3).
 */

export type WaitOutcome =
  | { kind: 'completed'; resultXml: string }
  | { kind: 'failed'; failedReason: string }
  | { kind: 'timeout' };

interface Waiting {
  since: number;
  settle: (outcome: WaitOutcome) => void;
}

export interface PendingWait {
  /** Resolves with the outcome, or `timeout` after `timeoutMs`. */
  outcome(timeoutMs: number): Promise<WaitOutcome>;
  cancel(): void;
}

/**
 * Several requests may wait for one job (repeats of an Idempotency-Key), so each job
 * holds a set of waiters, and each waiter settles once: by the job's outcome, or by
 * its own timeout without disturbing the others.
 */
export class ResultWaiter {
  private readonly waiting = new Map<string, Set<Waiting>>();
  private readonly pollTimer: NodeJS.Timeout;

  constructor(
    events: QueueEventReader,
    private readonly db: Knex,
    private readonly pollMs: number,
    private readonly log: Logger,
  ) {
    events.on('completed', ({ jobId, returnvalue }) => {
      this.settleJob(jobId, { kind: 'completed', resultXml: String(returnvalue) });
    });
    events.on('failed', ({ jobId, failedReason }) => {
      this.settleJob(jobId, { kind: 'failed', failedReason });
    });
    this.pollTimer = setInterval(() => void this.pollStoredResults(), pollMs);
    this.pollTimer.unref();
  }

  /** Registers interest in a job; call before the job is added so no event is missed. */
  expect(jobId: string): PendingWait {
    let resolve: (outcome: WaitOutcome) => void = () => {};
    const settled = new Promise<WaitOutcome>((done) => {
      resolve = done;
    });
    const waiting: Waiting = {
      since: Date.now(),
      settle: (outcome) => {
        this.forget(jobId, waiting);
        resolve(outcome);
      },
    };
    const waiters = this.waiting.get(jobId) ?? new Set<Waiting>();
    waiters.add(waiting);
    this.waiting.set(jobId, waiters);

    return {
      outcome: async (timeoutMs) => {
        const timer = setTimeout(() => waiting.settle({ kind: 'timeout' }), timeoutMs);
        const outcome = await settled;
        clearTimeout(timer);
        return outcome;
      },
      cancel: () => this.forget(jobId, waiting),
    };
  }

  /** How many requests wait, over all jobs. */
  get size(): number {
    let count = 0;
    for (const waiters of this.waiting.values()) count += waiters.size;
    return count;
  }

  close(): void {
    clearInterval(this.pollTimer);
    for (const jobId of [...this.waiting.keys()])
      this.settleJob(jobId, { kind: 'timeout' });
  }

  private forget(jobId: string, waiting: Waiting): void {
    const waiters = this.waiting.get(jobId);
    waiters?.delete(waiting);
    if (waiters?.size === 0) this.waiting.delete(jobId);
  }

  private settleJob(jobId: string, outcome: WaitOutcome): void {
    for (const waiting of [...(this.waiting.get(jobId) ?? [])]) waiting.settle(outcome);
  }

  private async pollStoredResults(): Promise<void> {
    const due = Date.now() - this.pollMs;
    const jobIds = [...this.waiting]
      .filter(([, waiters]) => [...waiters].some((waiting) => waiting.since <= due))
      .map(([jobId]) => jobId);
    if (jobIds.length === 0) return;

    try {
      const results = await findResults(this.db, jobIds);
      for (const [jobId, resultXml] of results) {
        this.settleJob(jobId, { kind: 'completed', resultXml });
      }
    } catch (error) {
      this.log.warn(
        { err: { name: (error as Error).name } },
        'stored result poll failed',
      );
    }
  }
}
