import { classifyJobError, TransientError } from '../src/errors.ts';
import type { CallJob, ProcessedCall } from '../src/processCall.ts';

/**
 * Gathers the jobs a worker process runs at once into batches, each stored by one
 * statement (processCalls), so a busy worker pays two round trips and one commit for
 * many jobs instead of for each (issue 7). Nothing waits for a batch to fill: a job
 * that arrives while fewer than `maxInFlight` batches run is sent at once, alone if it
 * is alone; jobs that arrive meanwhile wait for the next free slot and go together, up
 * to `maxBatch`.
 *
 * A batch's storing statement holds all of its jobs or none. A transient fault (database
 * away, deadlock, serialization failure) fails every job of the batch, and BullMQ
 * retries each. Any other fault may belong to one job alone, so the batch's jobs are
 * then run again one by one: only the job that causes it fails.
 */

export type RunCalls = (jobs: CallJob[]) => Promise<ProcessedCall[]>;

interface Waiting {
  job: CallJob;
  resolve: (processed: ProcessedCall) => void;
  reject: (error: unknown) => void;
}

export interface BatchLimits {
  /** Most jobs in one batch. */
  maxBatch: number;
  /** Most batches running at once. */
  maxInFlight: number;
}

export class CallBatcher {
  private readonly waiting: Waiting[] = [];
  private inFlight = 0;

  constructor(
    private readonly runCalls: RunCalls,
    private readonly limits: BatchLimits,
  ) {}

  /** Runs one job in the next batch; resolves with its answer. */
  process(job: CallJob): Promise<ProcessedCall> {
    return new Promise((resolve, reject) => {
      this.waiting.push({ job, resolve, reject });
      this.sendBatches();
    });
  }

  private sendBatches(): void {
    while (this.inFlight < this.limits.maxInFlight && this.waiting.length > 0) {
      const batch = this.waiting.splice(0, this.limits.maxBatch);
      this.inFlight++;
      void this.runBatch(batch).finally(() => {
        this.inFlight--;
        this.sendBatches();
      });
    }
  }

  private async runBatch(batch: Waiting[]): Promise<void> {
    try {
      const processed = await this.runCalls(batch.map((entry) => entry.job));
      batch.forEach((entry, index) => entry.resolve(processed[index]!));
    } catch (error) {
      const alone = batch.length === 1;
      if (alone || classifyJobError(error) instanceof TransientError) {
        for (const entry of batch) entry.reject(error);
        return;
      }
      for (const entry of batch) await this.runBatch([entry]);
    }
  }
}
