/**
 * How fast the service answers this import's rows, over the last few seconds. The
 * first poll of a row waits about as long as the rows ahead of it should take (never
 * less than the answer's Retry-After). The queue runs jobs roughly in the order they
 * came, so polling every pending row each second would mostly find them pending, and
 * spend the service's time on status reads that its worker needs for the jobs.
 */

const WINDOW_MS = 5_000;
/** Aim early: a poll too soon costs one request, a poll too late costs time. */
const EARLY = 0.8;

export class AnswerRate {
  private readonly answeredAtMs: number[] = [];

  note(nowMs = Date.now()): void {
    this.answeredAtMs.push(nowMs);
    this.forget(nowMs);
  }

  /** Rows answered per second lately; undefined until there is something to measure. */
  perSecond(nowMs = Date.now()): number | undefined {
    this.forget(nowMs);
    const count = this.answeredAtMs.length;
    if (count < 2) return undefined;

    return (count * 1000) / Math.max(1, nowMs - this.answeredAtMs[0]!);
  }

  /** The expected wait of a row sent behind `ahead` unanswered rows, in ms. */
  expectedWaitMs(ahead: number, nowMs = Date.now()): number {
    const perSecond = this.perSecond(nowMs);
    return perSecond === undefined ? 0 : (ahead * 1000 * EARLY) / perSecond;
  }

  private forget(nowMs: number): void {
    const oldest = nowMs - WINDOW_MS;
    let drop = 0;
    while (drop < this.answeredAtMs.length && this.answeredAtMs[drop]! < oldest) drop++;
    this.answeredAtMs.splice(0, drop);
  }
}
