import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { extname } from 'node:path';
import { firstInvalidUtf8Offset } from './utf8.ts';

/**
 * The file an import reads: read whole, checked to be UTF-8 text, its format chosen.
 * Its SHA-256 names it in the journal and in every row's Idempotency-Key, so the same
 * bytes always give the same keys.
 */

export type InputFormat = 'csv' | 'jsonl';

export const INPUT_FORMATS: readonly InputFormat[] = ['csv', 'jsonl'];

export interface InputFile {
  path: string;
  /** Hex SHA-256 of the file's bytes as read. */
  sha256: string;
  /** The file's text, without a leading byte order mark. */
  text: string;
  format: InputFormat;
}

/** The whole file is refused before anything is sent (exit code 2). */
export class InputFileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InputFileError';
  }
}

const BOM = '\uFEFF';
const JSON_LINES_EXTENSIONS = new Set(['.jsonl', '.ndjson']);

async function readBytes(path: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (code === 'ENOENT') throw new InputFileError(`${path} does not exist`);
    throw new InputFileError(`cannot read ${path} (${String(code ?? 'error')})`);
  }
}

function lineAt(bytes: Buffer, offset: number): number {
  let line = 1;
  for (let index = bytes.indexOf(0x0a); index !== -1 && index < offset;) {
    line++;
    index = bytes.indexOf(0x0a, index + 1);
  }
  return line;
}

function decodeUtf8(path: string, bytes: Buffer): string {
  const offset = firstInvalidUtf8Offset(bytes);
  if (offset === undefined) return bytes.toString('utf8');

  const byte = bytes[offset]!.toString(16).toUpperCase().padStart(2, '0');
  throw new InputFileError(
    `${path} is not UTF-8: byte 0x${byte} at byte offset ${offset} ` +
      `(line ${lineAt(bytes, offset)}) is not valid UTF-8; save the file as UTF-8`,
  );
}

/** An explicit format, else the extension, else the content: JSON lines open with `{`. */
function chooseFormat(path: string, text: string, given?: InputFormat): InputFormat {
  if (given !== undefined) return given;

  const extension = extname(path).toLowerCase();
  if (JSON_LINES_EXTENSIONS.has(extension)) return 'jsonl';
  if (extension === '.csv') return 'csv';
  return text.trimStart().startsWith('{') ? 'jsonl' : 'csv';
}

export async function readInputFile(
  path: string,
  format?: InputFormat,
): Promise<InputFile> {
  const bytes = await readBytes(path);
  const sha256 = createHash('sha256').update(bytes).digest('hex');

  // Spreadsheets often write a byte order mark; it is no part of the first column's name.
  const decoded = decodeUtf8(path, bytes);
  const text = decoded.startsWith(BOM) ? decoded.slice(BOM.length) : decoded;
  if (text.trim() === '') throw new InputFileError(`${path} is empty`);

  return { path, sha256, text, format: chooseFormat(path, text, format) };
}
