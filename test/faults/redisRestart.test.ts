import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { pageXml, userCall } from '../harness.ts';
import {
  EMPTY_QUEUE,
  postCalls,
  queueCounts,
  report,
  Scenario,
  sleep,
  waitForNoPendingJob,
} from './support.ts';

/**
 * Scenario 2 of issue 3: Redis is shut down (as an operator does, the append-only
 * file flushed) while jobs wait and run, then started again on the same directory.
 * Nothing queued may be lost (../shared/DESIGN.md section 4).
 */

const ADDED = pageXml('success', 'Record successfully added');

const CALLS = 40;
const CONCURRENCY = 4;

describe('fault: Redis restarted under queued and running jobs', () => {
  it('completes every queued and running job once Redis is back, each with one stored result', async (t) => {
    const scenario = await Scenario.open(t);
    const redis = await scenario.startRedis();
    const env = { REDIS_URL: redis.url, WORKER_CONCURRENCY: String(CONCURRENCY) };
    const { baseUrl } = await scenario.startIngress(env);
    const worker = scenario.spawn('worker', env);
    const queue = scenario.openQueue(redis.url);

    // Jobs for user 2 wait inside their transaction while the test holds its row.
    const rowLock = await scenario.lockUserRow(2);
    const answers = await postCalls(
      baseUrl,
      Array.from({ length: CALLS }, () => userCall()),
      8,
    );
    assert.deepEqual(
      answers.filter((answer) => answer.status !== 202),
      [],
      'every call is queued',
    );
    const jobIds = answers.map((answer) => answer.jobId!);

    await scenario.waitForHeldJobs(queue, CONCURRENCY, 30_000);
    assert.deepEqual(await queueCounts(queue), {
      ...EMPTY_QUEUE,
      waiting: CALLS - CONCURRENCY,
      active: CONCURRENCY,
    });

    const downAt = performance.now();
    await redis.shutdown();
    assert.equal(redis.running, false);

    // The running jobs commit while Redis is away; BullMQ cannot hear of it yet.
    await rowLock.release();
    await scenario.waitForResults(CONCURRENCY, 30_000);
    // Down longer than a job lock lasts (2 s), so the running jobs' locks lapse.
    await sleep(Math.max(0, 3_000 - (performance.now() - downAt)));

    await redis.start();
    const backAt = performance.now();
    await scenario.waitForResults(CALLS, 60_000);
    const doneAt = performance.now();

    const results = await scenario.storedResults();
    assert.deepEqual(
      results.map((result) => result.jobId).sort(),
      [...jobIds].sort(),
      'one stored result per queued job, none lost',
    );
    assert.ok(results.every((result) => result.resultXml === ADDED));
    assert.equal(await scenario.countRecords(), CALLS);

    // A job whose result is stored may still be active in Redis until it is re-run.
    const counts = await waitForNoPendingJob(queue, 30_000);
    const emptiedAt = performance.now();
    assert.deepEqual(counts, EMPTY_QUEUE, 'no job left or failed');

    // The jobs running at shutdown ran again once their locks had lapsed; every
    // attempt answered the stored result.
    const lines = worker.jobLines();
    const reruns = lines.filter((line) => line.firstAttempt === false).length;
    assert.deepEqual(
      lines.filter((line) => line.outcome !== 'Record successfully added'),
      [],
    );
    assert.ok(worker.running, 'the worker survived the restart');

    // The ingress process reconnected as well: it answers every job's status.
    const statuses = await Promise.all(
      jobIds.map((jobId) =>
        fetch(`${baseUrl}/billing/api/jobs/${jobId}`).then(async (response) => ({
          status: response.status,
          body: await response.text(),
        })),
      ),
    );
    assert.ok(statuses.every((status) => status.status === 200 && status.body === ADDED));

    report(t, {
      jobs: CALLS,
      'running at shutdown': CONCURRENCY,
      results: results.length,
      records: CALLS,
      're-runs answered from the stored result': reruns,
      'Redis down (ms)': backAt - downAt,
      'all stored after its return (ms)': doneAt - backAt,
      'queue empty after its return (ms)': emptiedAt - backAt,
    });
  });
});
