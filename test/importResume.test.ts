import assert from 'node:assert/strict';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { PhonebookClient } from '../src/client/phonebookClient.ts';
import { InputFileError } from '../src/import/inputFile.ts';
import { runImport, type ImportOptions } from '../src/import/runImport.ts';
import {
  closedPort,
  startListeningService,
  type ListeningService,
} from './listeningService.ts';
import {
  readResults,
  recordKey,
  storedRecords,
  temporaryFolder,
  validCsv,
} from './importSupport.ts';

/**
 * `runImport` in this process against the service on a loopback port (issue 8): a
 * run stopped by its AbortSignal and run again, a service that cannot be reached, a
 * journal of another import, and a JSON lines file.
 */

const ADDED = 'Record successfully added';
const TAKEN = 'Speed dial must be unique';
const INTERRUPTED_TEXT =
  'not answered: the import was interrupted; run the import again to finish';

let running: ListeningService;
let folder: string;

before(async () => {
  running = await startListeningService({ WORKER_CONCURRENCY: '16' });
  folder = await temporaryFolder('import-resume');
});

after(async () => {
  await running.service.dispose();
  await rm(folder, { recursive: true, force: true });
});

function importOptions(
  inputPath: string,
  outPath: string,
  more: Partial<ImportOptions> = {},
): ImportOptions {
  const client = new PhonebookClient({
    baseUrl: running.url,
    username: 'admin',
    secret: 'secret',
    maxConcurrentRequests: 32,
  });
  return {
    inputPath,
    outPath,
    client,
    serviceUrl: running.url,
    username: 'admin',
    ...more,
  };
}

describe('an import stopped by its signal, then run again', () => {
  const count = 600;
  const inputPath = () => join(folder, 'resume.csv');
  const outPath = () => join(folder, 'resume-results.csv');
  const expected = () =>
    Array.from({ length: count }, (_, index) =>
      recordKey({
        user_id: '5',
        number: `3706${index}`,
        name: `Desk ${index}`,
        speeddial: String(200_000 + index),
      }),
    );
  const fileRecords = async () =>
    (await storedRecords(running.service))
      .filter((record) => Number(record.speeddial) >= 200_000)
      .map(recordKey);

  before(async () => {
    await writeFile(inputPath(), validCsv(count, '5', 200_000));
  });

  it('stops cleanly, writing the answers it has and marking the rest', async () => {
    const controller = new AbortController();
    const summary = await runImport(
      importOptions(inputPath(), outPath(), {
        signal: controller.signal,
        onProgress: (counts) => {
          if (counts.answeredNow >= 150) controller.abort();
        },
      }),
    );

    assert.equal(summary.stopReason, 'the import was interrupted');
    assert.ok(summary.unanswered > 0 && summary.added >= 150, JSON.stringify(summary));
    const results = await readResults(outPath());
    assert.equal(results.length, count);
    assert.deepEqual([...new Set(results.map((result) => result.outcome))].sort(), [
      ADDED,
      INTERRUPTED_TEXT,
    ]);
  });

  it('finishes the rest on the next run, keeping the first outcomes, with no duplicates', async () => {
    const first = await readResults(outPath());

    const summary = await runImport(importOptions(inputPath(), outPath()));

    const second = await readResults(outPath());
    assert.equal(summary.unanswered, 0);
    assert.deepEqual(
      second.map((result) => result.outcome),
      Array(count).fill(ADDED),
    );
    for (const result of first.filter((row) => row.outcome === ADDED)) {
      assert.deepEqual(second[result.row - 1], result);
    }
    assert.deepEqual((await fileRecords()).sort(), expected().sort());
  });

  it('changes nothing when run once more', async () => {
    const results = await readFile(outPath(), 'utf8');
    const records = await storedRecords(running.service);

    const summary = await runImport(importOptions(inputPath(), outPath()));

    assert.equal(summary.sent, 0);
    assert.equal(await readFile(outPath(), 'utf8'), results);
    assert.deepEqual(await storedRecords(running.service), records);
  });
});

describe('imports that cannot reach their end', () => {
  it('stops when the service cannot be reached, every row saying why', async () => {
    const url = await closedPort();
    const outPath = join(folder, 'unreachable-results.csv');
    await writeFile(join(folder, 'unreachable.csv'), validCsv(30, '2', 300_000));
    const client = new PhonebookClient({
      baseUrl: url,
      username: 'admin',
      secret: 'secret',
      retryForMs: 300,
    });

    const summary = await runImport({
      ...importOptions(join(folder, 'unreachable.csv'), outPath),
      client,
      serviceUrl: url,
    });

    const reason = `cannot reach the service at ${url} (ECONNREFUSED)`;
    assert.equal(summary.stopReason, reason);
    assert.equal(summary.unanswered, 30);
    const outcomes = new Set((await readResults(outPath)).map((row) => row.outcome));
    assert.deepEqual(
      [...outcomes],
      [`not answered: ${reason}; run the import again to finish`],
    );
  });

  it('refuses the journal of another file before sending anything', async () => {
    const outPath = join(folder, 'shared-results.csv');
    await writeFile(join(folder, 'one.csv'), validCsv(3, '2', 310_000));
    await writeFile(join(folder, 'two.csv'), validCsv(3, '2', 320_000));
    await runImport(importOptions(join(folder, 'one.csv'), outPath));

    await assert.rejects(
      runImport(importOptions(join(folder, 'two.csv'), outPath)),
      (error) =>
        error instanceof InputFileError &&
        error.message ===
          `${outPath}.journal is the journal of another import (another file, service ` +
            'or user); choose another --out, or delete the results and the journal to start over',
    );
  });
});

describe('JSON lines', () => {
  it('imports one object per line, numbers as written, malformed lines reported', async () => {
    const inputPath = join(folder, 'records.jsonl');
    const lines = [
      '{"user_id":2,"number":37060000000123456789,"name":"Desk \\"A\\"","speeddial":"330001"}',
      '{"user_id":"2","number":"3706","name":"Desk B","speeddial":330001}',
      '{"user_id":"2","number":"3706","name":"Desk C"',
      '{"user_id":"2","number":"3706","name":"Desk D","speeddial":"330002"}',
    ];
    await writeFile(inputPath, `${lines.join('\n')}\n`);
    const outPath = join(folder, 'records-results.csv');

    await runImport(importOptions(inputPath, outPath));

    const outcomes = (await readResults(outPath)).map((row) => row.outcome);
    const taken = outcomes[0] === ADDED ? [ADDED, TAKEN] : [TAKEN, ADDED];
    assert.deepEqual(outcomes, [
      ...taken,
      'not sent: malformed row at line 3: is not a JSON object (invalid JSON at byte 46)',
      ADDED,
    ]);
    const stored = await running.service
      .db('phonebook_records')
      .where({ speeddial: '330001' })
      .select('number', 'name');
    assert.equal(stored.length, 1);
  });
});
