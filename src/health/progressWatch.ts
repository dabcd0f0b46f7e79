/**
 * Whether a worker that looks connected is in fact consuming: while jobs wait and it
 * has a free slot, it must take or finish a job within the progress timeout.
 *
 * An idle worker has made no progress for as long as it was idle, so the clock of a
 * backlog starts when a check first sees jobs waiting: a burst after a quiet night is
 * not mistaken for a stuck worker, and a stuck one is called so by the first check
 * that comes a timeout after the backlog was first seen.
 *
 * A worker whose every slot is busy counts as consuming: its jobs may be slow rather
 * than stuck, and a hung job is not told apart (README, Limits).
 */
export class ProgressWatch {
  private lastProgressAt: number;
  private backlogSince: number | undefined;

  constructor(
    private readonly timeoutMs: number,
    private readonly now: () => number = Date.now,
  ) {
    this.lastProgressAt = now();
  }

  /** The worker took or finished a job. */
  noteProgress(): void {
    this.lastProgressAt = this.now();
  }

  /**
   * Judges the worker from the jobs waiting for it now and its free slots; false when
   * it has taken and finished nothing for longer than the timeout while it could have.
   */
  consuming(waiting: number, freeSlots: number): boolean {
    const now = this.now();
    if (waiting === 0 || freeSlots <= 0) {
      this.backlogSince = undefined;
      return true;
    }
    this.backlogSince ??= now;
    return now - Math.max(this.lastProgressAt, this.backlogSince) <= this.timeoutMs;
  }
}
