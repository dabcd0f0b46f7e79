import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseCsv } from '../src/import/csv.ts';
import type { RunningService } from '../src/service.ts';

/** Shared by the import tests: temporary folders, the results file, stored records. */

export async function temporaryFolder(kind: string): Promise<string> {
  return mkdtemp(join(tmpdir(), `phonebook-${kind}-`));
}

export interface ResultRow {
  row: number;
  jobId: string;
  outcome: string;
}

/** The results file as rows, after checking its header and that rows run 1, 2, 3... */
export async function readResults(path: string): Promise<ResultRow[]> {
  const [header, ...records] = parseCsv(await readFile(path, 'utf8'));
  assert.deepEqual(header?.fields, ['row', 'job_id', 'outcome']);

  const rows = records.map((record) => {
    assert.equal(record.problem, undefined, `results line ${record.line}`);
    const [row = '', jobId = '', outcome = ''] = record.fields;
    return { row: Number(row), jobId, outcome };
  });
  assert.deepEqual(
    rows.map((row) => row.row),
    rows.map((_, index) => index + 1),
  );
  return rows;
}

export interface StoredRecord {
  user_id: string;
  number: string;
  name: string;
  speeddial: string;
}

/** Every stored record, in a fixed order, to compare before and after a run. */
export async function storedRecords(service: RunningService): Promise<StoredRecord[]> {
  return service
    .db('phonebook_records')
    .select('user_id', 'number', 'name', 'speeddial')
    .orderBy(['user_id', 'speeddial']);
}

export function recordKey(record: StoredRecord): string {
  return JSON.stringify([
    String(record.user_id),
    record.number,
    record.name,
    record.speeddial,
  ]);
}

/** A CSV file of `count` valid rows for `userId`, speed dials from `firstSpeeddial`. */
export function validCsv(count: number, userId: string, firstSpeeddial: number): string {
  const lines = ['user_id,number,name,speeddial'];
  for (let index = 0; index < count; index++) {
    lines.push(`${userId},3706${index},Desk ${index},${firstSpeeddial + index}`);
  }
  return `${lines.join('\r\n')}\r\n`;
}

const BIN = fileURLToPath(new URL('../bin/phonebook.js', import.meta.url));
const CLI_TIMEOUT_MS = 120_000;

export interface CliRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** The caller the import commands sign as: the admin, with the global secret. */
export function importEnv(url: string): Record<string, string> {
  return {
    PATH: process.env.PATH ?? '',
    PHONEBOOK_URL: url,
    PHONEBOOK_USER: 'admin',
    PHONEBOOK_SECRET: 'secret',
  };
}

/**
 * Starts `phonebook ARGS` as a child process with only `env` for its environment
 * (no inherited secret); `done` settles when it exits, however it ends.
 */
export function spawnPhonebook(args: string[], env: Record<string, string>) {
  const child = spawn(process.execPath, [BIN, ...args], { env, timeout: CLI_TIMEOUT_MS });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  child.stdin.end();

  const done = new Promise<CliRun>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
  return { child, done };
}

export function runPhonebook(args: string[], env: Record<string, string>) {
  return spawnPhonebook(args, env).done;
}

/** Lines in a file so far, 0 while it does not exist. */
export async function lineCount(path: string): Promise<number> {
  try {
    return (await readFile(path, 'utf8')).split('\n').length - 1;
  } catch {
    return 0;
  }
}
