import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { pageXml, userCall } from '../harness.ts';
import {
  EMPTY_QUEUE,
  postCalls,
  report,
  Scenario,
  sleep,
  waitForNoPendingJob,
} from './support.ts';

/**
 * Scenario 3 of issue 3: Postgres becomes unreachable for 10 s while jobs run. The
 * service reaches Postgres only through a proxy the test controls; cutting it drops
 * every connection and refuses new ones. A database fault is transient: the job is
 * retried with backoff and must not fail for good (../shared/DESIGN.md section 4).
 */

const ADDED = pageXml('success', 'Record successfully added');

const OUTAGE_MS = 10_000;
const CONCURRENCY = 4;
const BEFORE_OUTAGE = 20;
const DURING_OUTAGE = 40;
const CALLS = BEFORE_OUTAGE + DURING_OUTAGE;

describe('fault: Postgres unreachable for 10 s', () => {
  it('retries jobs with backoff through the outage and completes every one, none failed', async (t) => {
    const scenario = await Scenario.open(t);
    // The service creates and migrates its database through the proxy at start.
    const proxy = await scenario.openPostgresProxy();
    const env = {
      DATABASE_URL: scenario.databaseUrlVia(proxy.port),
      WORKER_CONCURRENCY: String(CONCURRENCY),
      JOB_ATTEMPTS: '10',
      JOB_BACKOFF_MS: '300',
    };
    const { baseUrl } = await scenario.startIngress(env);
    const worker = scenario.spawn('worker', env);
    const queue = scenario.openQueue();

    // Some jobs have sent their storing statement, which waits for the row, when the
    // cut comes. The server may still run those to the end once the row is free: they
    // are the only ones that can be stored while the worker cannot reach Postgres.
    const rowLock = await scenario.lockUserRow(2);
    const first = await postCalls(
      baseUrl,
      Array.from({ length: BEFORE_OUTAGE }, () => userCall()),
      8,
    );
    await scenario.waitForHeldJobs(queue, CONCURRENCY, 30_000);

    await proxy.cut();
    const cutAt = performance.now();
    await rowLock.release();

    // The ingress queues without the database, so calls keep being accepted.
    const during = await postCalls(
      baseUrl,
      Array.from({ length: DURING_OUTAGE }, () => userCall()),
      4,
    );
    await sleep(OUTAGE_MS - (performance.now() - cutAt));
    const storedDuringOutage = await scenario.countResults();
    await proxy.open();
    const reopenedAt = performance.now();

    const answers = [...first, ...during];
    assert.deepEqual(
      answers.filter((answer) => answer.status !== 202),
      [],
      'every call is queued',
    );
    await scenario.waitForResults(CALLS, 90_000);
    const doneAt = performance.now();

    assert.ok(
      storedDuringOutage <= CONCURRENCY,
      `only statements sent before the cut can be stored during it (${storedDuringOutage})`,
    );
    const storedByEarlierAttempt = worker
      .jobLines()
      .filter((line) => line.firstAttempt === false);
    assert.equal(
      storedByEarlierAttempt.length,
      storedDuringOutage,
      'each job the server stored after the cut is answered from its stored result',
    );
    const retried = worker.logs.filter(
      (line) => line.msg === 'job attempt failed' && line.retry === true,
    );
    assert.ok(retried.length >= CONCURRENCY, 'the running jobs failed and were retried');

    const results = await scenario.storedResults();
    assert.deepEqual(
      results.map((result) => result.jobId).sort(),
      answers.map((answer) => answer.jobId).sort(),
      'one stored result per call',
    );
    const successes = results.filter((result) => result.success);
    assert.equal(successes.length, CALLS);
    assert.ok(results.every((result) => result.resultXml === ADDED));
    assert.equal(await scenario.countRecords(), successes.length);

    const counts = await waitForNoPendingJob(queue, 30_000);
    assert.deepEqual(counts, EMPTY_QUEUE, 'no job failed for good');
    assert.ok(worker.running, 'the worker survived the outage');

    const lastAttempt = Math.max(
      ...worker.jobLines().map((line) => Number(line.attempt)),
    );
    report(t, {
      calls: CALLS,
      'running at the cut': CONCURRENCY,
      'sent during the outage': DURING_OUTAGE,
      'stored by the server after the cut': storedDuringOutage,
      results: results.length,
      records: successes.length,
      failed: 0,
      'attempts failed and retried': retried.length,
      'latest successful attempt': lastAttempt,
      'outage (ms)': reopenedAt - cutAt,
      'all stored after reopening (ms)': doneAt - reopenedAt,
    });
  });
});
