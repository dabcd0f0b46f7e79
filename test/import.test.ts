import assert from 'node:assert/strict';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startListeningService, type ListeningService } from './listeningService.ts';
import {
  importEnv,
  readResults,
  recordKey,
  runPhonebook,
  storedRecords,
  temporaryFolder,
  type StoredRecord,
} from './importSupport.ts';

/**
 * `npx phonebook import` of 5,000 rows with invalid ones (issue 8), run as the CLI in
 * a child process against the service in this process on a loopback port, so the two
 * use both cores. The results are compared row by row with the planned outcomes, the
 * stored records with the successes, and runs of the finished file again change
 * nothing.
 */

const ROWS = 5_000;
const ADDED = 'Record successfully added';
const TAKEN = 'Speed dial must be unique';

let running: ListeningService;
let folder: string;

before(async () => {
  running = await startListeningService({ WORKER_CONCURRENCY: '16' });
  folder = await temporaryFolder('import');
});

after(async () => {
  await running.service.dispose();
  await rm(folder, { recursive: true, force: true });
});

/** One planned row: its CSV text, the outcome it must get, the record it stores. */
interface PlannedRow {
  text: string;
  /** The exact outcome; `pair` for one of two rows with one speed dial. */
  expected: string;
  fields?: StoredRecord;
}

/** The speed dial each row of category 19 finds taken, stored before the import. */
const takenSpeeddial = (index: number) => String(90_000 + index);

/** A name that needs RFC 4180 quoting (commas, quotes, a CRLF) or none at all. */
function nameOf(index: number): { text: string; value: string } {
  if (index % 3 === 0) {
    return { text: `"Desk, ""${index}"""`, value: `Desk, "${index}"` };
  }
  if (index % 3 === 1) {
    return { text: `"Line one\r\nline ${index}"`, value: `Line one\r\nline ${index}` };
  }
  return { text: `Žalgiris ${index} 📞`, value: `Žalgiris ${index} 📞` };
}

function validRow(index: number, userId: string, speeddial: string): PlannedRow {
  const name = nameOf(index);
  const number = `3706${String(index).padStart(7, '0')}`;
  return {
    text: `${userId},${number},${name.text},${speeddial}`,
    expected: ADDED,
    fields: { user_id: userId, number, name: name.value, speeddial },
  };
}

/** Row `index` (from 1) of the big file; `line` is where its record starts. */
function planRow(index: number, line: number): PlannedRow {
  const speeddial = String(10_000 + index);
  const mor = (text: string, expected: string) => ({ text, expected });
  const local = (text: string, problem: string) => ({
    text,
    expected: `not sent: malformed row at line ${line}: ${problem}`,
  });

  switch (index % 50) {
    case 7:
      return mor(
        `2,37x${index},Bad number,${speeddial}`,
        'Record number must be numeric',
      );
    case 13:
      return mor(`999999,3706,Nobody,${speeddial}`, 'User was not found');
    case 17:
      return mor(`4,3706,Accountant,${speeddial}`, 'User was not found');
    case 19:
      return mor(`2,3706,Taken,${takenSpeeddial(index)}`, TAKEN);
    case 29:
      return local(`2,3706,Extra,${speeddial},x`, 'has 5 fields, expected 4');
    case 31:
      return local(
        `2,37"06,Quote,${speeddial}`,
        'a quote inside an unquoted field (quote the field, double the quote)',
      );
    case 37:
      return mor(`2,3706,Short,5`, 'Speed Dial should have at least two digits');
    case 41:
      return mor(`2,3706,,${speeddial}`, 'Speed Dial name must be provided');
    case 44:
    case 45:
      return {
        ...validRow(index, '2', String(10_000 + index - (index % 50) + 44)),
        expected: 'pair',
      };
    default:
      return validRow(index, index % 2 === 0 ? '2' : '5', speeddial);
  }
}

function planFile(count: number): { text: string; rows: PlannedRow[] } {
  const rows: PlannedRow[] = [];
  let line = 2;
  for (let index = 1; index <= count; index++) {
    const row = planRow(index, line);
    rows.push(row);
    line += row.text.split('\n').length;
  }
  const text = ['user_id,number,name,speeddial', ...rows.map((row) => row.text)];
  return { text: `${text.join('\r\n')}\r\n`, rows };
}

describe('an import of 5,000 rows with invalid ones', () => {
  const inputPath = () => join(folder, 'big.csv');
  const outPath = () => join(folder, 'big-results.csv');
  const importTo = (out: string) =>
    runPhonebook(
      ['import', inputPath(), '--out', out, '--concurrency', '32'],
      importEnv(running.url),
    );
  let plan: PlannedRow[];
  let recordsBefore: StoredRecord[];

  before(async () => {
    const file = planFile(ROWS);
    plan = file.rows;
    await writeFile(inputPath(), file.text);
    const taken = plan.flatMap((row, index) =>
      row.expected === TAKEN
        ? [
            {
              user_id: 2,
              number: '1',
              name: 'Taken',
              speeddial: takenSpeeddial(index + 1),
            },
          ]
        : [],
    );
    await running.service.db('phonebook_records').insert(taken);
    recordsBefore = await storedRecords(running.service);
  });

  it('answers every row with its expected outcome, row by row', async (t) => {
    const started = performance.now();
    const run = await importTo(outPath());
    const seconds = (performance.now() - started) / 1000;
    t.diagnostic(
      `${ROWS} rows in ${seconds.toFixed(1)} s: ${Math.round(ROWS / seconds)} rows/s`,
    );

    assert.equal(run.code, 0, run.stderr);
    assert.match(
      run.stderr,
      /^import: sent \d+, done \d+ of 5000, [\d.]+ rows\/s, ETA \S+, \d+ errors$/m,
    );
    const results = await readResults(outPath());
    assert.equal(results.length, ROWS);
    for (const [index, result] of results.entries()) {
      const expected = plan[index]!.expected;
      if (expected !== 'pair') assert.equal(result.outcome, expected, `row ${index + 1}`);
    }
    const pairs = results.filter((_, index) => plan[index]!.expected === 'pair');
    for (let index = 0; index < pairs.length; index += 2) {
      const outcomes = [pairs[index]!.outcome, pairs[index + 1]!.outcome].sort();
      assert.deepEqual(outcomes, [ADDED, TAKEN], `pair ${index / 2 + 1}`);
    }
    const added = results.filter((row) => row.outcome === ADDED).length;
    assert.equal(
      run.stdout,
      `${ROWS} rows: ${added} added, ${ROWS - added} refused, 0 without an answer; ` +
        `results in ${outPath()}\n`,
    );
  });

  it('stores exactly the rows answered Record successfully added', async () => {
    const results = await readResults(outPath());
    const added = results
      .filter((result) => result.outcome === ADDED)
      .map((result) => recordKey(plan[result.row - 1]!.fields!));
    const before = new Set(recordsBefore.map(recordKey));

    const stored = (await storedRecords(running.service)).map(recordKey);
    const storedNow = stored.filter((key) => !before.has(key));

    assert.equal(stored.length, recordsBefore.length + added.length);
    assert.deepEqual(storedNow.sort(), added.sort());
  });

  it('gives every sent row a job id and a malformed row none', async () => {
    const results = await readResults(outPath());

    for (const result of results) {
      const local = result.outcome.startsWith('not sent: ');
      assert.match(result.jobId, local ? /^$/ : /^[0-9a-f-]{36}$/, `row ${result.row}`);
    }
  });

  it('answers the same file again with the same outcomes and job ids, storing nothing', async () => {
    const before = await storedRecords(running.service);
    const againPath = join(folder, 'big-again.csv');

    const run = await importTo(againPath);

    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual(await readResults(againPath), await readResults(outPath()));
    assert.deepEqual(await storedRecords(running.service), before);
  });

  it('sends nothing when run again into the same results: the journal has every row', async () => {
    const before = await readFile(outPath(), 'utf8');

    const run = await importTo(outPath());

    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stderr, /^import: sent 0, done 5000 of 5000, /m);
    assert.equal(await readFile(outPath(), 'utf8'), before);
  });
});
