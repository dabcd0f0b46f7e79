import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { csvLine, parseCsv } from '../src/import/csv.ts';
import { InputFileError, readInputFile } from '../src/import/inputFile.ts';
import { readRows } from '../src/import/inputRows.ts';
import { firstInvalidUtf8Offset } from '../src/import/utf8.ts';

/**
 * Reading import files (issue 8): RFC 4180 CSV, JSON lines, the header check, UTF-8.
 * No service is needed: these are the file rules alone.
 */

let dir: string;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'phonebook-import-file-'));
});

after(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function rowsOf(name: string, content: string | Buffer) {
  const path = join(dir, name);
  await writeFile(path, content);
  return readRows(await readInputFile(path));
}

async function fileError(name: string, content: string | Buffer): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, content);
  try {
    readRows(await readInputFile(path));
  } catch (error) {
    assert.ok(error instanceof InputFileError, String(error));
    return error.message.replace(`${path}`, 'FILE');
  }
  assert.fail('the file was accepted');
}

describe('CSV records', () => {
  it('reads quoted fields with commas, doubled quotes and line breaks', () => {
    const records = parseCsv('a,"b, c","say ""hi""","two\nlines"\n');

    assert.deepEqual(records, [
      { line: 1, fields: ['a', 'b, c', 'say "hi"', 'two\nlines'] },
    ]);
  });

  it('ends records at CRLF or LF and counts lines across quoted line breaks', () => {
    const records = parseCsv('a,b\r\n"x\r\ny",z\nlast,one');

    assert.deepEqual(records, [
      { line: 1, fields: ['a', 'b'] },
      { line: 2, fields: ['x\r\ny', 'z'] },
      { line: 4, fields: ['last', 'one'] },
    ]);
  });

  it('skips blank lines and keeps empty fields', () => {
    const records = parseCsv('\n,,\n\r\n"",x\n');

    assert.deepEqual(records, [
      { line: 2, fields: ['', '', ''] },
      { line: 4, fields: ['', 'x'] },
    ]);
  });

  it('reports a quote inside an unquoted field and goes on at the next line', () => {
    const records = parseCsv('a,b"c\nd,e\n');

    assert.equal(
      records[0]?.problem,
      'a quote inside an unquoted field (quote the field, double the quote)',
    );
    assert.deepEqual(records[1], { line: 2, fields: ['d', 'e'] });
  });

  it('reports text after a closing quote', () => {
    const [record] = parseCsv('"ab"c,d\n');

    assert.equal(record?.problem, 'text follows a closing quote');
  });

  it('reports a quoted field left open to the end of the file', () => {
    const [first, second] = parseCsv('a,b\n"open,c\nmore\n');

    assert.deepEqual(first, { line: 1, fields: ['a', 'b'] });
    assert.equal(second?.line, 2);
    assert.equal(
      second?.problem,
      'a quoted field is not closed before the end of the file',
    );
  });

  it('writes fields back so that they read the same', () => {
    const values = ['plain', 'a,b', 'say "hi"', 'two\nlines', ''];

    assert.equal(csvLine(values), 'plain,"a,b","say ""hi""","two\nlines",\r\n');
    assert.deepEqual(parseCsv(csvLine(values))[0]?.fields, values);
  });
});

describe('UTF-8 check', () => {
  it('finds the offset of the first byte that is not UTF-8', () => {
    const bytes = Buffer.concat([
      Buffer.from('ok ž '),
      Buffer.from([0xe9]),
      Buffer.from('x'),
    ]);

    assert.equal(firstInvalidUtf8Offset(bytes), 6);
  });

  it('refuses overlong forms, surrogates and truncated sequences', () => {
    assert.equal(firstInvalidUtf8Offset(Buffer.from([0x41, 0xc0, 0xaf])), 1);
    assert.equal(firstInvalidUtf8Offset(Buffer.from([0xed, 0xa0, 0x80])), 0);
    assert.equal(firstInvalidUtf8Offset(Buffer.from([0x41, 0x42, 0xe2, 0x82])), 2);
    assert.equal(firstInvalidUtf8Offset(Buffer.from([0xf4, 0x90, 0x80, 0x80])), 0);
  });

  it('accepts every well-formed sequence length', () => {
    assert.equal(firstInvalidUtf8Offset(Buffer.from('a ž € 📞')), undefined);
  });
});

describe('CSV import files', () => {
  it('maps the columns by the header, in any order, values exactly as written', async () => {
    const rows = await rowsOf(
      'order.csv',
      'name,speeddial,user_id,number\r\n" Desk, 1 ",07,02,+370\r\n',
    );

    assert.deepEqual(rows, [
      {
        row: 1,
        line: 2,
        fields: { user_id: '02', number: '+370', name: ' Desk, 1 ', speeddial: '07' },
      },
    ]);
  });

  it('drops a byte order mark before the first column name', async () => {
    const rows = await rowsOf(
      'bom.csv',
      '\uFEFFuser_id,number,name,speeddial\n2,1,a,11\n',
    );

    assert.equal(rows.length, 1);
  });

  it('keeps a malformed row with its line and problem, numbering rows among records', async () => {
    const rows = await rowsOf(
      'malformed.csv',
      'user_id,number,name,speeddial\n2,1,"two\nlines",11\n\n2,1,a,11,extra\n2,1,b,12\n',
    );

    assert.deepEqual(rows[1], {
      row: 2,
      line: 5,
      problem: 'has 5 fields, expected 4',
    });
    assert.equal(rows.length, 3);
    assert.equal(rows[2]?.row, 3);
  });

  it('refuses a header without a column, naming it and the columns found', async () => {
    const message = await fileError('missing.csv', 'user_id,number,name\n2,1,a\n');

    assert.equal(
      message,
      'FILE: the header row: missing column "speeddial"; expected the columns ' +
        'user_id, number, name, speeddial (found "user_id", "number", "name")',
    );
  });

  it('refuses a header with an unknown or repeated column', async () => {
    const message = await fileError(
      'extra.csv',
      'user_id,number,name,speeddial,notes,name\n',
    );

    assert.equal(
      message,
      'FILE: the header row: unknown column "notes"; repeated column "name"; ' +
        'expected the columns user_id, number, name, speeddial ' +
        '(found "user_id", "number", "name", "speeddial", "notes", "name")',
    );
  });

  it('refuses an empty file, a blank one, and one with a header only', async () => {
    assert.equal(await fileError('empty.csv', ''), 'FILE is empty');
    assert.equal(await fileError('blank.csv', '\uFEFF \r\n\n'), 'FILE is empty');
    assert.equal(
      await fileError('header.csv', 'user_id,number,name,speeddial\r\n'),
      'FILE has a header row but no data rows',
    );
  });

  it('refuses a file that is not UTF-8, naming the byte offset and line', async () => {
    const bytes = Buffer.concat([
      Buffer.from('user_id,number,name,speeddial\n2,1,Caf'),
      Buffer.from([0xe9]),
      Buffer.from(',11\n'),
    ]);

    assert.equal(
      await fileError('latin1.csv', bytes),
      'FILE is not UTF-8: byte 0xE9 at byte offset 37 (line 2) is not valid UTF-8; ' +
        'save the file as UTF-8',
    );
  });
});

describe('JSON lines import files', () => {
  it('reads strings and numbers, a number as its text as written', async () => {
    const rows = await rowsOf(
      'numbers.jsonl',
      '{"user_id":2,"number":37060000000123456789,"name":"a\\u00e9","speeddial":"07"}\n',
    );

    assert.deepEqual(rows, [
      {
        row: 1,
        line: 1,
        fields: {
          user_id: '2',
          number: '37060000000123456789',
          name: 'aé',
          speeddial: '07',
        },
      },
    ]);
  });

  it('is chosen by content when the extension says nothing', async () => {
    const rows = await rowsOf(
      'records.txt',
      '\n{"user_id":"2","number":"1","name":"a","speeddial":"11"}\r\n',
    );

    assert.equal(rows.length, 1);
    assert.equal(rows[0]?.line, 2);
  });

  it('keeps a malformed line as a row with its problem', async () => {
    const good = '{"user_id":"2","number":"1","name":"a","speeddial":"11"}';
    const rows = await rowsOf(
      'malformed.ndjson',
      [
        good,
        '{"user_id":"2","number":"1"',
        '{"user_id":"2","number":"1","name":null,"speeddial":"11"}',
        '{"user_id":"2","number":"1","speeddial":"11"}',
        good,
      ].join('\n'),
    );

    assert.deepEqual(
      rows.map((row) => ('problem' in row ? row.problem : 'ok')),
      [
        'ok',
        'is not a JSON object (invalid JSON at byte 27)',
        '"name" must be a string or a number',
        'missing key "name"',
        'ok',
      ],
    );
  });

  it('refuses the file when the first object lacks a key or has another', async () => {
    const message = await fileError(
      'keys.jsonl',
      '{"user_id":"2","number":"1","name":"a","speed_dial":"11"}\n',
    );

    assert.equal(
      message,
      'FILE: line 1: missing key "speeddial"; unknown key "speed_dial"; expected the ' +
        'keys user_id, number, name, speeddial ' +
        '(found "user_id", "number", "name", "speed_dial")',
    );
  });
});
