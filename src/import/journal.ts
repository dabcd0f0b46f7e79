import { once } from 'node:events';
import { createWriteStream, type WriteStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { InputFileError } from './inputFile.ts';

/**
 * The journal of an import: a JSON lines file beside the results (`RESULTS.journal`)
 * with one line per row the service answered for good, written as each answer comes.
 * A re-run reads it and sends only the rows it lacks, so rows already done keep their
 * first outcome and cost no traffic, however long ago they ran.
 *
 * The journal is not what prevents duplicates: each row's Idempotency-Key is. A line
 * lost in a crash (the process killed before the line reached the file) only means
 * the row is sent again, with the same key, and the service answers with the first
 * job's result.
 */

/** The first line: which import the journal belongs to. */
export interface JournalHeader {
  journal: 'phonebook import';
  version: 1;
  input_sha256: string;
  service: string;
  user: string;
}

/** One row the service answered for good. */
export interface JournalEntry {
  row: number;
  job_id: string | null;
  kind: 'success' | 'error';
  outcome: string;
}

export interface JournalContents {
  /** False when there is no journal yet, or only a header cut short: start a new one. */
  hasHeader: boolean;
  /** False when the last write was cut short: the next line must start on its own. */
  endsWithNewline: boolean;
  entries: Map<number, JournalEntry>;
}

export function journalPathOf(resultsPath: string): string {
  return `${resultsPath}.journal`;
}

function parseLine(line: string): unknown {
  try {
    return JSON.parse(line);
  } catch {
    return undefined;
  }
}

function isEntry(value: unknown): value is JournalEntry {
  const entry = value as Partial<JournalEntry> | undefined;
  return (
    Number.isInteger(entry?.row) &&
    (entry?.kind === 'success' || entry?.kind === 'error') &&
    typeof entry.outcome === 'string' &&
    (typeof entry.job_id === 'string' || entry.job_id === null)
  );
}

function sameImport(found: unknown, expected: JournalHeader): boolean {
  const header = found as Partial<JournalHeader> | undefined;
  return (Object.keys(expected) as Array<keyof JournalHeader>).every(
    (name) => header?.[name] === expected[name],
  );
}

async function readText(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    if ((error as { code?: unknown }).code === 'ENOENT') return undefined;
    throw new InputFileError(`cannot read the journal ${path}`);
  }
}

/**
 * Reads a journal, refusing one that belongs to another import: another file, another
 * service or another user. A line that does not parse (a write cut by a crash) is
 * skipped; of two lines for one row the first counts.
 */
export async function readJournal(
  path: string,
  expected: JournalHeader,
): Promise<JournalContents> {
  const text = await readText(path);
  const entries = new Map<number, JournalEntry>();
  // A header cut short by a crash is started again; anything else is read and checked.
  if (text === undefined || JSON.stringify(expected).startsWith(text)) {
    return { hasHeader: false, endsWithNewline: true, entries };
  }

  const [first = '', ...lines] = text.split('\n');
  if (!sameImport(parseLine(first), expected)) {
    throw new InputFileError(
      `${path} is the journal of another import (another file, service or user); ` +
        'choose another --out, or delete the results and the journal to start over',
    );
  }
  for (const value of lines.map(parseLine)) {
    if (isEntry(value) && !entries.has(value.row)) entries.set(value.row, value);
  }
  return { hasHeader: true, endsWithNewline: text.endsWith('\n'), entries };
}

/** Appends journal lines in order; `close` waits until they are all written. */
export class JournalWriter {
  private failure: unknown;

  private constructor(private readonly stream: WriteStream) {
    stream.on('error', (error) => (this.failure ??= error));
  }

  static async open(
    path: string,
    header: JournalHeader,
    contents: JournalContents,
  ): Promise<JournalWriter> {
    const stream = createWriteStream(path, { flags: contents.hasHeader ? 'a' : 'w' });
    try {
      await once(stream, 'open');
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      throw new InputFileError(`cannot write the journal ${path} (${String(code)})`);
    }

    const writer = new JournalWriter(stream);
    if (!contents.hasHeader) writer.writeLine(header);
    else if (!contents.endsWithNewline) stream.write('\n');
    return writer;
  }

  append(entry: JournalEntry): void {
    this.writeLine(entry);
  }

  async close(): Promise<void> {
    this.stream.end();
    if (!this.stream.closed) await once(this.stream, 'close').catch(() => undefined);
    if (this.failure !== undefined) throw this.failure;
  }

  private writeLine(value: unknown): void {
    this.stream.write(`${JSON.stringify(value)}\n`);
  }
}
