import { resolve } from 'node:path';
import { PhonebookClient } from '../client/phonebookClient.ts';
import { INPUT_FORMATS, InputFileError, type InputFormat } from '../import/inputFile.ts';
import { journalPathOf } from '../import/journal.ts';
import { ProgressReporter } from '../import/progress.ts';
import { runImport, type ImportSummary } from '../import/runImport.ts';
import { expectPositionals, parseCommandArgs, type Command } from './args.ts';
import { CommandError, UsageError } from './errors.ts';
import { promptSecret } from './promptSecret.ts';

/**
 * `phonebook import FILE --out RESULTS.csv`: bulk provisioning through the service's
 * HTTP API (issue 8). Unlike the other commands it never touches the database: it is
 * a client, and signs its calls as any MOR client does.
 */

/** The service's own default address (HOST and PORT in the README). */
const DEFAULT_URL = 'http://127.0.0.1:3000';
const DEFAULT_CONCURRENCY = 16;
const DEFAULT_MAX_PENDING = 1_000;
const MAX_CONCURRENCY = 1_000;
const MAX_PENDING = 100_000;

interface Caller {
  serviceUrl: string;
  username: string;
  secret: string;
}

function parseCount(
  text: string | undefined,
  flag: string,
  { fallback, max }: { fallback: number; max: number },
): number {
  if (text === undefined) return fallback;
  if (!/^[0-9]+$/.test(text) || Number(text) < 1 || Number(text) > max) {
    throw new UsageError(`${flag} must be a whole number from 1 to ${max}`);
  }
  return Number(text);
}

function parseFormat(text: string | undefined): InputFormat | undefined {
  if (text === undefined) return undefined;
  const format = INPUT_FORMATS.find((known) => known === text);
  if (format === undefined) throw new UsageError('--format must be csv or jsonl');
  return format;
}

/** PHONEBOOK_URL's origin: the client adds the API paths to it. */
function serviceUrlFromEnv(): string {
  const text = process.env.PHONEBOOK_URL || DEFAULT_URL;
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new UsageError('PHONEBOOK_URL is not a URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new UsageError('PHONEBOOK_URL must be an http:// or https:// URL');
  }
  return url.origin;
}

/**
 * The secret comes from PHONEBOOK_SECRET or a prompt, never from the command line,
 * where shell history and process lists would keep it.
 */
async function secretFromEnv(): Promise<string> {
  const secret = process.env.PHONEBOOK_SECRET;
  if (secret !== undefined && secret !== '') return secret;
  if (!process.stdin.isTTY) {
    throw new UsageError(
      'PHONEBOOK_SECRET is not set, and standard input is no terminal to ask for it',
    );
  }
  return promptSecret('Secret (API_Secret_Key) of the scope of PHONEBOOK_USER: ');
}

async function callerFromEnv(): Promise<Caller> {
  const serviceUrl = serviceUrlFromEnv();
  const username = process.env.PHONEBOOK_USER;
  if (username === undefined || username === '') {
    throw new UsageError('PHONEBOOK_USER is not set: the username that signs the calls');
  }
  return { serviceUrl, username, secret: await secretFromEnv() };
}

/**
 * Runs the work with an abort signal that Ctrl-C (SIGINT) or SIGTERM fires once; the
 * handlers are `once`, so a second Ctrl-C ends the process at once.
 */
async function withInterrupt<T>(work: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  const stop = () => {
    process.stderr.write('\nstopping: writing the journal and the results\n');
    controller.abort();
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  try {
    return await work(controller.signal);
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
  }
}

interface ImportArgs {
  inputPath: string;
  outPath: string;
  format: InputFormat | undefined;
  concurrency: number;
  maxPendingRows: number;
}

function parseImportArgs(argv: string[]): ImportArgs {
  const { values, positionals } = parseCommandArgs(argv, {
    out: { type: 'string' },
    concurrency: { type: 'string' },
    'max-pending': { type: 'string' },
    format: { type: 'string' },
  });
  const [inputPath] = expectPositionals(positionals, ['FILE'] as const);
  const outPath = values.out;
  if (outPath === undefined) throw new UsageError('missing --out RESULTS.csv');
  const samePath = (path: string) => resolve(path) === resolve(inputPath);
  if (samePath(outPath) || samePath(journalPathOf(outPath))) {
    throw new UsageError('--out must not name the input file');
  }

  return {
    inputPath,
    outPath,
    format: parseFormat(values.format),
    concurrency: parseCount(values.concurrency, '--concurrency', {
      fallback: DEFAULT_CONCURRENCY,
      max: MAX_CONCURRENCY,
    }),
    maxPendingRows: parseCount(values['max-pending'], '--max-pending', {
      fallback: DEFAULT_MAX_PENDING,
      max: MAX_PENDING,
    }),
  };
}

/** The import, its progress on standard error, and a bad file as a usage error. */
async function importWithProgress(args: ImportArgs, caller: Caller) {
  const client = new PhonebookClient({
    baseUrl: caller.serviceUrl,
    username: caller.username,
    secret: caller.secret,
    maxConcurrentRequests: args.concurrency,
  });
  const progress = new ProgressReporter(process.stderr);
  progress.start();
  try {
    return await withInterrupt((signal) =>
      runImport({
        ...args,
        client,
        serviceUrl: caller.serviceUrl,
        username: caller.username,
        signal,
        onProgress: (counts) => progress.update(counts),
      }),
    );
  } catch (error) {
    if (error instanceof InputFileError) throw new UsageError(error.message);
    throw error;
  } finally {
    progress.finish();
  }
}

function summaryLine(summary: ImportSummary, outPath: string): string {
  return (
    `${summary.total} rows: ${summary.added} added, ` +
    `${summary.total - summary.added - summary.unanswered} refused, ` +
    `${summary.unanswered} without an answer; results in ${outPath}`
  );
}

export const importCommand: Command = {
  words: ['import'],
  summary: 'send the records of a CSV or JSON lines file; results per row',
  help: `Usage: phonebook import FILE --out RESULTS.csv [--concurrency N] [--max-pending N]
                        [--format csv|jsonl]

Sends every row of FILE to phonebook_record_create as an async call of its own and
writes RESULTS.csv: row,job_id,outcome, one line per row. The outcome is MOR's text
(Record successfully added, Speed dial must be unique, ...), or "not sent: ..." for a
row that could not be read, or "not answered: ..." for a row that got no answer.

FILE is CSV with the header row user_id,number,name,speeddial (RFC 4180 quoting), or
JSON lines (one object per line with those four keys), chosen by the extension
(.csv, .jsonl, .ndjson), else by the content; --format overrides.

Environment:
  PHONEBOOK_URL     the service (default ${DEFAULT_URL})
  PHONEBOOK_USER    the username that signs the calls (u)
  PHONEBOOK_SECRET  the API secret of its scope; asked for, unechoed, when unset
                    and standard input is a terminal

Options:
  --out PATH         results file; PATH.journal beside it remembers every answer
  --concurrency N    HTTP requests in flight at once (default ${DEFAULT_CONCURRENCY})
  --max-pending N    rows sent and not yet answered, at most (default ${DEFAULT_MAX_PENDING})

Run the same command again after an interruption (Ctrl-C, a crash, the network):
rows already answered keep their outcome, the others are sent again with the same
Idempotency-Key, so nothing is stored twice.

Exit codes: 0 every row has an answer; 1 some rows got none (run again to finish);
2 command line, environment or file not usable (nothing was sent).
`,
  run: async (argv) => {
    const args = parseImportArgs(argv);
    const caller = await callerFromEnv();

    const summary = await importWithProgress(args, caller);
    console.log(summaryLine(summary, args.outPath));
    if (summary.unanswered > 0) {
      const reason = summary.stopReason ?? 'see the results';
      throw new CommandError(
        `${summary.unanswered} rows got no answer (${reason}); ` +
          'run the same command again to finish',
      );
    }
  },
};
