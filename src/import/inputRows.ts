import { isUtf8 } from 'node:buffer';
import type { RecordFields } from '../client/phonebookClient.ts';
import { decodeJsonMembers, JsonSyntaxError, NOT_TEXT } from '../ingress/jsonDecode.ts';
import { parseCsv, type CsvRecord } from './csv.ts';
import { InputFileError, type InputFile } from './inputFile.ts';

/**
 * The rows of an input file. A CSV file starts with a header row naming the four
 * columns in any order; a JSON lines file has one object per line with the four keys,
 * and its first object is checked as a header. A header that lacks a column or has
 * another refuses the whole file; a row that cannot be read is kept with its problem,
 * reported in the results, and the others go on. Values are used exactly as written:
 * the service signs and checks them byte for byte.
 */

export const COLUMNS = ['user_id', 'number', 'name', 'speeddial'] as const;

type Column = (typeof COLUMNS)[number];

/** A row, counted from 1 among the data rows: the header and blank lines do not count. */
export type InputRow =
  | { row: number; line: number; fields: RecordFields }
  | { row: number; line: number; problem: string };

const quoted = (names: readonly string[]) => names.map((name) => `"${name}"`).join(', ');

function plural(word: string, count: number): string {
  return count === 1 ? word : `${word}s`;
}

/** What is wrong with a set of column (or key) names, if anything. */
function namesProblem(names: readonly string[], word: string): string | undefined {
  const missing = COLUMNS.filter((column) => !names.includes(column));
  const unknown = names.filter((name) => !(COLUMNS as readonly string[]).includes(name));
  const repeated = names.filter((name, index) => names.indexOf(name) !== index);

  const parts = [
    missing.length > 0 && `missing ${plural(word, missing.length)} ${quoted(missing)}`,
    unknown.length > 0 && `unknown ${plural(word, unknown.length)} ${quoted(unknown)}`,
    repeated.length > 0 &&
      `repeated ${plural(word, repeated.length)} ${quoted(repeated)}`,
  ].filter((part): part is string => typeof part === 'string');
  return parts.length === 0 ? undefined : parts.join('; ');
}

function headerError(file: InputFile, where: string, problem: string, names: string[]) {
  const word = file.format === 'csv' ? 'columns' : 'keys';
  return new InputFileError(
    `${file.path}: ${where}: ${problem}; expected the ${word} ${COLUMNS.join(', ')}` +
      ` (found ${names.length === 0 ? 'none' : quoted(names)})`,
  );
}

function csvRow(record: CsvRecord, row: number, header: readonly string[]): InputRow {
  const { line } = record;
  if (record.problem !== undefined) return { row, line, problem: record.problem };
  if (record.fields.length !== COLUMNS.length) {
    return {
      row,
      line,
      problem: `has ${record.fields.length} fields, expected ${COLUMNS.length}`,
    };
  }

  const value = (column: Column) => record.fields[header.indexOf(column)]!;
  const fields = {
    user_id: value('user_id'),
    number: value('number'),
    name: value('name'),
    speeddial: value('speeddial'),
  };
  return { row, line, fields };
}

function csvRows(file: InputFile): InputRow[] {
  const [header, ...records] = parseCsv(file.text);
  if (header === undefined) throw new InputFileError(`${file.path} is empty`);

  // Blanks around a column name are a spreadsheet's doing, not part of the name.
  const names = header.fields.map((name) => name.trim());
  if (header.problem !== undefined) {
    throw headerError(file, 'the header row cannot be read', header.problem, names);
  }
  const problem = namesProblem(names, 'column');
  if (problem !== undefined) throw headerError(file, 'the header row', problem, names);
  if (records.length === 0) {
    throw new InputFileError(`${file.path} has a header row but no data rows`);
  }

  return records.map((record, index) => csvRow(record, index + 1, names));
}

type JsonLine = { fields: RecordFields } | { problem: string; keys?: string[] };

/** One line's object: its four values as text, or why it has none. */
function readJsonLine(text: string): JsonLine {
  let members;
  try {
    members = decodeJsonMembers(Buffer.from(text, 'utf8'));
  } catch (error) {
    if (!(error instanceof JsonSyntaxError)) throw error;
    return { problem: `is not a JSON object (${error.message})` };
  }

  const keys = members.map((member) => member.key);
  const keyProblem = namesProblem([...new Set(keys)], 'key');
  if (keyProblem !== undefined) return { problem: keyProblem, keys };

  // A repeated key keeps its last value, as in a JSON request to the service.
  const values = new Map<string, string>();
  for (const { key, value } of members) {
    if (value === NOT_TEXT) return { problem: `"${key}" must be a string or a number` };
    if (!isUtf8(value)) return { problem: `"${key}" is not valid UTF-8 text` };
    values.set(key, value.toString('utf8'));
  }
  const value = (column: Column) => values.get(column)!;
  return {
    fields: {
      user_id: value('user_id'),
      number: value('number'),
      name: value('name'),
      speeddial: value('speeddial'),
    },
  };
}

function jsonLineRows(file: InputFile): InputRow[] {
  const rows: InputRow[] = [];
  let headerChecked = false;

  for (const [index, rawLine] of file.text.split('\n').entries()) {
    const text = rawLine.endsWith('\r') ? rawLine.slice(0, -1) : rawLine;
    if (text.trim() === '') continue;
    const line = index + 1;
    const read = readJsonLine(text);

    // The first object stands for a header: if its keys are wrong, every row's are.
    if (!headerChecked && 'keys' in read && read.keys !== undefined) {
      throw headerError(file, `line ${line}`, read.problem, read.keys);
    }
    headerChecked ||= 'fields' in read;
    const row = rows.length + 1;
    rows.push(
      'fields' in read
        ? { row, line, fields: read.fields }
        : { row, line, problem: read.problem },
    );
  }

  if (!headerChecked) {
    throw new InputFileError(
      `${file.path}: no line is a JSON object with the keys ${COLUMNS.join(', ')}`,
    );
  }
  return rows;
}

export function readRows(file: InputFile): InputRow[] {
  return file.format === 'csv' ? csvRows(file) : jsonLineRows(file);
}
