/**
 * CSV as RFC 4180 defines it: fields separated by commas, records by CRLF or LF; a
 * field in double quotes may hold commas, line breaks and doubled quotes. A record
 * that breaks these rules is returned with its problem, and reading goes on at the
 * next line, so one bad row does not cost the rest of the file. Blank lines are not
 * records.
 */

export interface CsvRecord {
  /** The line the record starts on, counting from 1. */
  line: number;
  fields: string[];
  /** Why the record is not RFC 4180; its fields are then incomplete. */
  problem?: string;
}

interface Field {
  value: string;
  problem?: string;
}

const FIELD_END = /,|\r?\n/g;
const NEEDS_QUOTES = /[",\r\n]/;

class CsvReader {
  private offset = 0;
  private line = 1;

  constructor(private readonly text: string) {}

  records(): CsvRecord[] {
    const records: CsvRecord[] = [];
    while (this.offset < this.text.length) {
      if (this.takeLineEnd()) continue;
      records.push(this.record());
    }
    return records;
  }

  private record(): CsvRecord {
    const line = this.line;
    const fields: string[] = [];

    for (;;) {
      const field = this.text[this.offset] === '"' ? this.quoted() : this.unquoted();
      fields.push(field.value);
      if (field.problem !== undefined) {
        this.skipRestOfLine();
        return { line, fields, problem: field.problem };
      }
      if (this.text[this.offset] !== ',') break;
      this.offset++;
    }

    this.takeLineEnd();
    return { line, fields };
  }

  private quoted(): Field {
    this.offset++;
    let value = '';

    for (;;) {
      const close = this.text.indexOf('"', this.offset);
      if (close === -1) {
        value += this.advanceTo(this.text.length);
        return {
          value,
          problem: 'a quoted field is not closed before the end of the file',
        };
      }
      value += this.advanceTo(close);
      this.offset++;
      if (this.text[this.offset] !== '"') break;
      value += '"';
      this.offset++;
    }

    if (!this.atFieldEnd()) return { value, problem: 'text follows a closing quote' };
    return { value };
  }

  private unquoted(): Field {
    FIELD_END.lastIndex = this.offset;
    const end = FIELD_END.exec(this.text)?.index ?? this.text.length;
    const value = this.advanceTo(end);

    if (value.includes('"')) {
      return {
        value,
        problem: 'a quote inside an unquoted field (quote the field, double the quote)',
      };
    }
    return { value };
  }

  /** Moves to `end` and returns the text passed, counting its line breaks. */
  private advanceTo(end: number): string {
    const passed = this.text.slice(this.offset, end);
    this.offset = end;
    for (const char of passed) if (char === '\n') this.line++;
    return passed;
  }

  private atFieldEnd(): boolean {
    const next = this.text[this.offset];
    return (
      next === undefined ||
      next === ',' ||
      next === '\n' ||
      this.text.startsWith('\r\n', this.offset)
    );
  }

  private takeLineEnd(): boolean {
    const length = this.text.startsWith('\r\n', this.offset)
      ? 2
      : this.text[this.offset] === '\n'
        ? 1
        : 0;
    if (length === 0) return false;

    this.offset += length;
    this.line++;
    return true;
  }

  private skipRestOfLine(): void {
    const newline = this.text.indexOf('\n', this.offset);
    this.advanceTo(newline === -1 ? this.text.length : newline);
    this.takeLineEnd();
  }
}

export function parseCsv(text: string): CsvRecord[] {
  return new CsvReader(text).records();
}

/** One field for a CSV file: quoted, with doubled quotes, when it needs to be. */
export function csvField(value: string): string {
  return NEEDS_QUOTES.test(value) ? `"${value.replaceAll('"', '""')}"` : value;
}

/** One record for a CSV file, ended by CRLF as RFC 4180 section 2 writes it. */
export function csvLine(values: readonly string[]): string {
  return `${values.map(csvField).join(',')}\r\n`;
}
