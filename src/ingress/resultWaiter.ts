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

export class ResultWaiter {
  private readonly waiting = new Map<string, Waiting>();
  private readonly pollTimer: NodeJS.Timeout;

  constructor(
    events: QueueEventReader,
    private readonly db: Knex,
    private readonly pollMs: number,
    private readonly log: Logger,
  ) {
    events.on('completed', ({ jobId, returnvalue }) => {
      this.settle(jobId, { kind: 'completed', resultXml: String(returnvalue) });
    });
    events.on('failed', ({ jobId, failedReason }) => {
      this.settle(jobId, { kind: 'failed', failedReason });
    });
    this.pollTimer = setInterval(() => void this.pollStoredResults(), pollMs);
    this.pollTimer.unref();
  }

  /** Registers interest in a job; call before the job is added so no event is missed. */
  expect(jobId: string): PendingWait {
    let settle: (outcome: WaitOutcome) => void = () => {};
    const settled = new Promise<WaitOutcome>((resolve) => {
      settle = resolve;
    });
    this.waiting.set(jobId, { since: Date.now(), settle });

    return {
      outcome: async (timeoutMs) => {
        const timer = setTimeout(
          () => this.settle(jobId, { kind: 'timeout' }),
          timeoutMs,
        );
        const outcome = await settled;
        clearTimeout(timer);
        return outcome;
      },
      cancel: () => this.waiting.delete(jobId),
    };
  }

  get size(): number {
    return this.waiting.size;
  }

  close(): void {
    clearInterval(this.pollTimer);
    for (const jobId of [...this.waiting.keys()]) this.settle(jobId, { kind: 'timeout' });
  }

  private settle(jobId: string, outcome: WaitOutcome): void {
    const waiting = this.waiting.get(jobId);
    if (waiting === undefined) return;

    this.waiting.delete(jobId);
    waiting.settle(outcome);
  }

  private async pollStoredResults(): Promise<void> {
    const due = Date.now() - this.pollMs;
    const jobIds = [...this.waiting]
      .filter(([, waiting]) => waiting.since <= due)
      .map(([jobId]) => jobId);
    if (jobIds.length === 0) return;

    try {
      const results = await findResults(this.db, jobIds);
      for (const [jobId, resultXml] of results) {
        this.settle(jobId, { kind: 'completed', resultXml });
      }
    } catch (error) {
      this.log.warn(
        { err: { name: (error as Error).name } },
        'stored result poll failed',
      );
    }
  }
}
