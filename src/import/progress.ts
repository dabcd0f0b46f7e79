/**
 * Progress of an import on standard error. On a terminal: one line, rewritten in
 * place a few times a second. Elsewhere (a log file, CI): a plain line every
 * `intervalMs`, so logs stay readable.
 */

export interface ImportCounts {
  /** Rows in the file. */
  total: number;
  /** Rows sent in this run and accepted by the service. */
  sent: number;
  /** Rows with a final outcome: from the journal, refused locally, or answered now. */
  done: number;
  /** Rows answered in this run: what the rate counts. */
  answeredNow: number;
  /** Rows whose outcome is not a success, so far. */
  errors: number;
}

export interface ProgressStream {
  write: (text: string) => unknown;
  isTTY?: boolean;
}

const TERMINAL_INTERVAL_MS = 250;
const LOG_INTERVAL_MS = 2_000;
/** Erases the rest of a terminal line (ECMA-48 EL). */
const ERASE_TO_END = '\x1b[K';

function formatDuration(seconds: number): string {
  const whole = Math.ceil(seconds);
  if (whole < 60) return `${whole}s`;
  return `${Math.floor(whole / 60)}m${String(whole % 60).padStart(2, '0')}s`;
}

export function progressLine(counts: ImportCounts, elapsedMs: number): string {
  const rate = elapsedMs > 0 ? (counts.answeredNow * 1000) / elapsedMs : 0;
  const left = counts.total - counts.done;
  const eta = rate > 0 ? formatDuration(left / rate) : '?';
  return (
    `import: sent ${counts.sent}, done ${counts.done} of ${counts.total}, ` +
    `${rate >= 10 ? Math.round(rate) : rate.toFixed(1)} rows/s, ETA ${eta}, ` +
    `${counts.errors} errors`
  );
}

export class ProgressReporter {
  private counts: ImportCounts | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly startedMs = Date.now();

  constructor(
    private readonly stream: ProgressStream,
    private readonly intervalMs = stream.isTTY ? TERMINAL_INTERVAL_MS : LOG_INTERVAL_MS,
  ) {}

  update(counts: ImportCounts): void {
    this.counts = counts;
  }

  start(): void {
    this.timer = setInterval(() => this.print(), this.intervalMs);
    this.timer.unref();
  }

  /** Prints the last state once more and ends the line. */
  finish(): void {
    clearInterval(this.timer);
    this.print();
    if (this.stream.isTTY && this.counts !== undefined) this.stream.write('\n');
  }

  private print(): void {
    if (this.counts === undefined) return;
    const line = progressLine(this.counts, Date.now() - this.startedMs);
    this.stream.write(this.stream.isTTY ? `\r${line}${ERASE_TO_END}` : `${line}\n`);
  }
}
