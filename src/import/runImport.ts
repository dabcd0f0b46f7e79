import { setMaxListeners } from 'node:events';
import {
  PhonebookClientError,
  type DoneAnswer,
  type PendingAnswer,
  type PhonebookClient,
  type RecordFields,
} from '../client/phonebookClient.ts';
import { Semaphore } from '../client/semaphore.ts';
import { AnswerRate } from './answerRate.ts';
import { readInputFile, type InputFile, type InputFormat } from './inputFile.ts';
import { readRows, type InputRow } from './inputRows.ts';
import {
  journalPathOf,
  JournalWriter,
  readJournal,
  type JournalEntry,
  type JournalHeader,
} from './journal.ts';
import type { ImportCounts } from './progress.ts';
import { writeResults, type ResultLine } from './resultsFile.ts';

/**
 * Bulk provisioning (issue 8): every row of a file becomes one async call with its
 * own Idempotency-Key, and every row ends with one outcome in the results file.
 *
 * - A row's key is derived from the file's SHA-256 and the row number, so running
 *   the same file again, after an interruption or after it finished, repeats the same
 *   keys: the service answers a repeat with the first job's result and stores nothing
 *   twice (for as long as it keeps keys, IDEMPOTENCY_KEY_HOURS, 24 h at least).
 * - The journal (journal.ts) remembers each final answer beyond that, and spares a
 *   re-run the traffic of the rows already done.
 * - At most `concurrency` HTTP requests are in flight (the client's bound) and at
 *   most `maxPendingRows` rows are sent and not yet answered, so the queue is kept
 *   busy without the whole file waiting in it. A row's first poll waits about as
 *   long as the rows ahead of it should take (AnswerRate).
 */

export interface ImportOptions {
  inputPath: string;
  outPath: string;
  /** Default: by extension (`.jsonl`, `.ndjson`, `.csv`), else by content. */
  format?: InputFormat;
  client: PhonebookClient;
  /** The service's address and the caller's username, recorded in the journal. */
  serviceUrl: string;
  username: string;
  /** Rows sent and not yet answered, at most. Default 1000. */
  maxPendingRows?: number;
  /** Aborting it stops the import cleanly: the journal and results are written. */
  signal?: AbortSignal;
  /** Called whenever a row is sent or answered. */
  onProgress?: (counts: ImportCounts) => void;
}

export interface ImportSummary extends ImportCounts {
  /** Rows whose record was stored. */
  added: number;
  /** Rows with no final answer: a re-run sends them again. */
  unanswered: number;
  /** Why rows were left unanswered, when the run stopped before the end. */
  stopReason: string | undefined;
}

/** What the results file says of one row, and whether the journal keeps it. */
interface RowResult {
  jobId: string | undefined;
  outcome: string;
  kind: 'success' | 'error' | 'unanswered';
}

interface SendableRow {
  row: number;
  fields: RecordFields;
}

const DEFAULT_MAX_PENDING_ROWS = 1_000;
export const INTERRUPTED = 'the import was interrupted';

/** The Idempotency-Key of a row: the same file and row always give the same key. */
export function rowIdempotencyKey(fileSha256: string, row: number): string {
  return `phonebook-import-${fileSha256}-${row}`;
}

function notSent(row: InputRow & { problem: string }): RowResult {
  return {
    jobId: undefined,
    outcome: `not sent: malformed row at line ${row.line}: ${row.problem}`,
    kind: 'error',
  };
}

function fromJournal(entry: JournalEntry): RowResult {
  return { jobId: entry.job_id ?? undefined, outcome: entry.outcome, kind: entry.kind };
}

function notAnswered(reason: string, jobId?: string): RowResult {
  return { jobId, outcome: `not answered: ${reason}`, kind: 'unanswered' };
}

/** One run of an import: the rows still to send, their answers, the counts. */
class ImportRun {
  readonly results = new Map<number, RowResult>();
  /** Jobs of rows sent and not yet answered, for the results of a run that stops. */
  readonly pendingJobIds = new Map<number, string>();
  readonly counts: ImportCounts;
  stopReason: string | undefined;
  private readonly stopper = new AbortController();
  private readonly rate = new AnswerRate();

  constructor(
    private readonly file: InputFile,
    private readonly journal: JournalWriter,
    private readonly options: ImportOptions,
    total: number,
  ) {
    this.counts = { total, sent: 0, done: 0, answeredNow: 0, errors: 0 };
    // Every row in flight listens for the stop: thousands of listeners, by design.
    setMaxListeners(0, this.stopper.signal);
    const { signal } = options;
    if (signal?.aborted) this.stop(INTERRUPTED);
    signal?.addEventListener('abort', () => this.stop(INTERRUPTED), { once: true });
  }

  /** Records an outcome known before sending (a malformed row, a journal line). */
  settle(row: number, result: RowResult): void {
    this.results.set(row, result);
    this.counts.done++;
    if (result.kind !== 'success') this.counts.errors++;
  }

  async sendAll(rows: readonly SendableRow[]): Promise<void> {
    const maxRows = this.options.maxPendingRows ?? DEFAULT_MAX_PENDING_ROWS;
    const window = new Semaphore(maxRows);
    const sending: Promise<void>[] = [];

    for (const row of rows) {
      await window.acquire();
      if (this.stopper.signal.aborted) break;
      sending.push(this.send(row).finally(() => window.release()));
    }
    await Promise.all(sending);
  }

  private async send(row: SendableRow): Promise<void> {
    const signal = this.stopper.signal;
    const idempotencyKey = rowIdempotencyKey(this.file.sha256, row.row);
    try {
      const first = await this.options.client.submit(row.fields, {
        mode: 'async',
        idempotencyKey,
        signal,
      });
      this.counts.sent++;
      this.report();
      const done = first.state === 'done' ? first : await this.awaitRow(row.row, first);
      this.answer(row.row, done);
    } catch (error) {
      this.fail(row.row, error);
    }
  }

  /** Polls a row's job, the first time when the rows ahead of it should be done. */
  private async awaitRow(row: number, first: PendingAnswer): Promise<DoneAnswer> {
    const expectedMs = this.rate.expectedWaitMs(this.pendingJobIds.size);
    this.pendingJobIds.set(row, first.jobId);

    const retryAfterMs = Math.max(first.retryAfterMs, expectedMs);
    const signal = this.stopper.signal;
    return this.options.client.awaitResult({ ...first, retryAfterMs }, { signal });
  }

  private answer(row: number, done: DoneAnswer): void {
    const { jobId, outcome } = done;
    this.pendingJobIds.delete(row);
    // A job that failed for good has no MOR answer (its record was not stored).
    if (outcome.kind === 'failed') {
      return this.leave(row, notAnswered(outcome.text, jobId));
    }

    const { kind, text } = outcome;
    this.journal.append({ row, job_id: jobId ?? null, kind, outcome: text });
    this.counts.answeredNow++;
    this.rate.note();
    this.settle(row, { jobId, outcome: text, kind });
    this.report();
  }

  /**
   * A lost job leaves only its row unanswered. Anything else (the service
   * unreachable, busy past the retries, not the service at all) stops the run: the
   * other rows would fare no better, and a re-run picks up where this one stopped.
   */
  private fail(row: number, error: unknown): void {
    if (this.stopper.signal.aborted) return;
    if (error instanceof PhonebookClientError && error.reason === 'job-not-found') {
      const reason = `${error.message}; run the import again to finish`;
      return this.leave(row, notAnswered(reason, this.pendingJobIds.get(row)));
    }
    const reason =
      error instanceof PhonebookClientError
        ? error.message
        : `unexpected error (${error instanceof Error ? error.name : typeof error})`;
    this.stop(reason);
  }

  private leave(row: number, result: RowResult): void {
    this.results.set(row, result);
    this.counts.errors++;
    this.report();
  }

  private stop(reason: string): void {
    this.stopReason ??= reason;
    this.stopper.abort();
  }

  report(): void {
    this.options.onProgress?.({ ...this.counts });
  }
}

function journalHeader(file: InputFile, options: ImportOptions): JournalHeader {
  return {
    journal: 'phonebook import',
    version: 1,
    input_sha256: file.sha256,
    service: options.serviceUrl,
    user: options.username,
  };
}

/** Outcomes known before sending; returns the rows still to send. */
function settleKnownRows(
  run: ImportRun,
  rows: readonly InputRow[],
  journal: Map<number, JournalEntry>,
): SendableRow[] {
  const toSend: SendableRow[] = [];
  for (const row of rows) {
    const entry = journal.get(row.row);
    if ('problem' in row) run.settle(row.row, notSent(row));
    else if (entry !== undefined) run.settle(row.row, fromJournal(entry));
    else toSend.push(row);
  }
  return toSend;
}

function resultLines(run: ImportRun, rows: readonly InputRow[]): ResultLine[] {
  const reason = `${run.stopReason ?? 'no answer came'}; run the import again to finish`;
  return rows.map(({ row }) => {
    const result =
      run.results.get(row) ?? notAnswered(reason, run.pendingJobIds.get(row));
    return { row, jobId: result.jobId, outcome: result.outcome };
  });
}

function summarize(run: ImportRun): ImportSummary {
  const outcomes = [...run.results.values()];
  const answered = outcomes.filter((result) => result.kind !== 'unanswered').length;
  return {
    ...run.counts,
    added: outcomes.filter((result) => result.kind === 'success').length,
    unanswered: run.counts.total - answered,
    stopReason: run.stopReason,
  };
}

/**
 * Imports a file. A bad file (unreadable, not UTF-8, empty, a wrong header) throws
 * InputFileError before anything is sent; so does a journal of another import.
 */
export async function runImport(options: ImportOptions): Promise<ImportSummary> {
  const file = await readInputFile(options.inputPath, options.format);
  const rows = readRows(file);
  const journalPath = journalPathOf(options.outPath);
  const header = journalHeader(file, options);
  const journal = await readJournal(journalPath, header);

  const writer = await JournalWriter.open(journalPath, header, journal);
  const run = new ImportRun(file, writer, options, rows.length);
  const toSend = settleKnownRows(run, rows, journal.entries);
  run.report();
  try {
    await run.sendAll(toSend);
  } finally {
    await writer.close();
    await writeResults(options.outPath, resultLines(run, rows));
  }
  return summarize(run);
}
