import assert from 'node:assert/strict';
import { access, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { startListeningService, type ListeningService } from './listeningService.ts';
import {
  importEnv,
  lineCount,
  readResults,
  runPhonebook,
  spawnPhonebook,
  storedRecords,
  temporaryFolder,
  validCsv,
} from './importSupport.ts';

/**
 * `phonebook import` as operators run it (issue 8): a child process of the bin file
 * against the service in this process on a loopback port. Bad files and bad command
 * lines end with exit code 2 and one clear line before anything is sent; a run killed
 * or interrupted with Ctrl-C finishes when the same command runs again.
 */

const ADDED = 'Record successfully added';
const HEADER = 'user_id,number,name,speeddial';
const EXPECTED = 'expected the columns user_id, number, name, speeddial';

let running: ListeningService;
let folder: string;

before(async () => {
  running = await startListeningService({ WORKER_CONCURRENCY: '16' });
  folder = await temporaryFolder('import-cli');
});

after(async () => {
  await running.service.dispose();
  await rm(folder, { recursive: true, force: true });
});

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

/** Keys the service was asked to claim: one per call sent with an Idempotency-Key. */
async function claimedKeys(): Promise<number> {
  const [row] = await running.service
    .db('idempotency_keys')
    .count<{ count: string }[]>('* as count');
  return Number(row?.count ?? 0);
}

describe('files refused before anything is sent', { concurrency: true }, () => {
  const refusals: Array<[string, string | Buffer, (path: string) => string]> = [
    [
      'missing.csv',
      'user_id,number,name\n2,1,a\n',
      (path) =>
        `${path}: the header row: missing column "speeddial"; ${EXPECTED} ` +
        '(found "user_id", "number", "name")',
    ],
    [
      'extra.csv',
      `${HEADER},notes\n2,1,a,11,x\n`,
      (path) =>
        `${path}: the header row: unknown column "notes"; ${EXPECTED} ` +
        '(found "user_id", "number", "name", "speeddial", "notes")',
    ],
    ['empty.csv', '', (path) => `${path} is empty`],
    [
      'latin1.csv',
      Buffer.concat([Buffer.from(`${HEADER}\n2,1,Caf`), Buffer.from([0xe9, 0x0a])]),
      (path) =>
        `${path} is not UTF-8: byte 0xE9 at byte offset 37 (line 2) is not valid ` +
        'UTF-8; save the file as UTF-8',
    ],
  ];

  for (const [name, content, message] of refusals) {
    it(`exits with code 2 and names the problem for ${name}`, async () => {
      const path = join(folder, name);
      const outPath = join(folder, `${name}-results.csv`);
      await writeFile(path, content);

      const run = await runPhonebook(
        ['import', path, '--out', outPath],
        importEnv(running.url),
      );

      assert.equal(run.stderr, `phonebook: ${message(path)}\n`);
      assert.equal(run.stdout, '');
      assert.equal(run.code, 2);
      assert.equal(await exists(outPath), false);
      assert.equal(await exists(`${outPath}.journal`), false);
      assert.equal(await claimedKeys(), 0);
    });
  }
});

describe('command lines and environments refused', { concurrency: true }, () => {
  const input = () => join(folder, 'usage.csv');
  before(async () => {
    await writeFile(input(), validCsv(1, '2', 400_000));
  });

  const cases: Array<[string, string[], Record<string, string>, string]> = [
    ['no --out', [], {}, 'missing --out RESULTS.csv'],
    [
      'no user',
      ['--out', 'x.csv'],
      { PHONEBOOK_USER: '' },
      'PHONEBOOK_USER is not set: the username that signs the calls',
    ],
    [
      'no secret and no terminal',
      ['--out', 'x.csv'],
      { PHONEBOOK_SECRET: '' },
      'PHONEBOOK_SECRET is not set, and standard input is no terminal to ask for it',
    ],
    [
      'a URL that is not http',
      ['--out', 'x.csv'],
      { PHONEBOOK_URL: 'ftp://127.0.0.1/' },
      'PHONEBOOK_URL must be an http:// or https:// URL',
    ],
    [
      'a concurrency of 0',
      ['--out', 'x.csv', '--concurrency', '0'],
      {},
      '--concurrency must be a whole number from 1 to 1000',
    ],
  ];

  for (const [what, args, env, line] of cases) {
    it(`exits with code 2 for ${what}`, async () => {
      const run = await runPhonebook(['import', input(), ...args], {
        ...importEnv(running.url),
        ...env,
      });

      assert.equal(run.stderr, `phonebook: ${line}\n`);
      assert.equal(run.code, 2);
    });
  }
});

describe('an import stopped, then run again', () => {
  /** Starts an import of `count` rows and stops it with `signal` once some are done. */
  async function stopMidway(name: string, count: number, signal: NodeJS.Signals) {
    const inputPath = join(folder, `${name}.csv`);
    const outPath = join(folder, `${name}-results.csv`);
    const first = 500_000 + (signal === 'SIGKILL' ? 0 : 100_000);
    await writeFile(inputPath, validCsv(count, '5', first));
    const args = ['import', inputPath, '--out', outPath, '--concurrency', '32'];

    const started = spawnPhonebook(args, importEnv(running.url));
    while ((await lineCount(`${outPath}.journal`)) < 100) await sleep(50);
    started.child.kill(signal);
    const stopped = await started.done;
    return { args, outPath, stopped, first };
  }

  /** The stored speed dials of a file's range, each once if there are no duplicates. */
  async function storedSpeeddials(first: number, count: number): Promise<string[]> {
    return (await storedRecords(running.service))
      .map((record) => Number(record.speeddial))
      .filter((speeddial) => speeddial >= first && speeddial < first + count)
      .map(String);
  }

  it('finishes a killed import without duplicates when run again', async () => {
    const count = 600;
    const { args, outPath, stopped, first } = await stopMidway(
      'killed',
      count,
      'SIGKILL',
    );
    assert.equal(stopped.signal, 'SIGKILL');

    const again = await runPhonebook(args, importEnv(running.url));

    assert.equal(again.code, 0, again.stderr);
    assert.equal(
      again.stdout,
      `${count} rows: ${count} added, 0 refused, 0 without an answer; results in ${outPath}\n`,
    );
    const outcomes = (await readResults(outPath)).map((row) => row.outcome);
    assert.deepEqual(outcomes, Array(count).fill(ADDED));
    const expected = Array.from({ length: count }, (_, index) => String(first + index));
    assert.deepEqual((await storedSpeeddials(first, count)).sort(), expected.sort());
  });

  it('stops cleanly on Ctrl-C with exit code 1, results written, and finishes when run again', async () => {
    const count = 600;
    const { args, outPath, stopped, first } = await stopMidway(
      'interrupted',
      count,
      'SIGINT',
    );

    assert.equal(stopped.code, 1, stopped.stderr);
    assert.match(stopped.stderr, /\nstopping: writing the journal and the results\n/);
    assert.match(
      stopped.stderr,
      /\nphonebook: \d+ rows got no answer \(the import was interrupted\); run the same command again to finish\n$/,
    );
    const outcomes = new Set((await readResults(outPath)).map((row) => row.outcome));
    assert.deepEqual([...outcomes].sort(), [
      ADDED,
      'not answered: the import was interrupted; run the import again to finish',
    ]);

    const again = await runPhonebook(args, importEnv(running.url));

    assert.equal(again.code, 0, again.stderr);
    const expected = Array.from({ length: count }, (_, index) => String(first + index));
    assert.deepEqual((await storedSpeeddials(first, count)).sort(), expected.sort());
  });
});
