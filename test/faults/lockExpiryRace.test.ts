import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { pageXml, userCall } from '../harness.ts';
import {
  EMPTY_QUEUE,
  report,
  Scenario,
  sleep,
  waitFor,
  waitForNoPendingJob,
} from './support.ts';

/**
 * Scenario 7 of issue 3: two workers run one job at once. Worker A is frozen
 * (SIGSTOP) inside the job's transaction until its lock lapses, worker B takes the
 * job, then A resumes (SIGCONT). Both attempts reach the database; the transaction
 * keyed by job id must leave one record and one result, the success
 * (../shared/DESIGN.md section 4).
 */

const ADDED = pageXml('success', 'Record successfully added');
const ENV = {
  WORKER_CONCURRENCY: '1',
  WORKER_LOCK_MS: '2000',
  WORKER_STALLED_INTERVAL_MS: '1000',
};

describe('fault: two workers race on one job after its lock lapsed', () => {
  it('leaves exactly one record and one stored result, the success, when a frozen worker resumes', async (t) => {
    const scenario = await Scenario.open(t);
    const queue = scenario.openQueue();
    const workerA = scenario.spawn('worker', ENV);
    await waitFor(
      'worker A to connect',
      async () => (await queue.getWorkersCount()) === 1,
      30_000,
    );

    // A's attempt waits inside its transaction for a row the test holds.
    const rowLock = await scenario.lockUserRow(2);
    const jobId = await scenario.addJob(queue, userCall());
    await scenario.waitForLockWaiters(1, 30_000);

    workerA.signal('SIGSTOP');
    const stoppedAt = performance.now();
    const workerB = scenario.spawn('worker', ENV);
    // B finds the job stalled once A's lock lapsed, and runs it: two attempts wait.
    await scenario.waitForLockWaiters(2, 30_000);
    const takenOverMs = performance.now() - stoppedAt;

    // Both attempts go on in the database while A is still frozen.
    await rowLock.release();
    await sleep(500);
    workerA.signal('SIGCONT');

    const attemptOf = (worker: typeof workerA) =>
      worker.waitForLog((line) => line.msg === 'job' && line.jobId === jobId, 30_000);
    const [lineA, lineB] = await Promise.all([attemptOf(workerA), attemptOf(workerB)]);
    assert.equal(lineA.outcome, 'Record successfully added', 'A answers the success');
    assert.equal(lineB.outcome, 'Record successfully added', 'B answers the success');
    assert.equal(
      [lineA, lineB].filter((line) => line.firstAttempt === true).length,
      1,
      'exactly one attempt stored the result; the other read it',
    );

    const results = await scenario.storedResults();
    assert.deepEqual(
      results.map((result) => [result.jobId, result.resultXml]),
      [[jobId, ADDED]],
    );
    assert.equal(await scenario.countRecords(), 1);

    const counts = await waitForNoPendingJob(queue, 15_000);
    assert.deepEqual(counts, EMPTY_QUEUE, 'the job completed, not failed');
    assert.ok(workerA.running && workerB.running, 'both workers survive the race');

    report(t, {
      'B took the job after A froze (ms)': takenOverMs,
      'stored by': lineA.firstAttempt ? 'A' : 'B',
      'returned stored result': lineA.firstAttempt ? 'B' : 'A',
      records: 1,
      results: results.length,
      failed: 0,
    });
  });
});
