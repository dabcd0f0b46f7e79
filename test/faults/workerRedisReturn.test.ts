import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { userCall } from '../harness.ts';
import { EMPTY_QUEUE, report, Scenario, sleep, waitForNoPendingJob } from './support.ts';

/**
 * Scenario 5 of issue 3: a worker's Redis goes away for 15 s. The worker must not need
 * a restart: once Redis is back it consumes again, within 10 s.
 */

const DOWN_MS = 15_000;
/** The bound the issue sets from Redis's return to the first completed job. */
const CONSUME_BOUND_MS = 10_000;
const JOBS_AFTER = 20;

describe('fault: a worker loses its Redis for 15 s', () => {
  it('consumes again within 10 s of Redis returning, without a restart', async (t) => {
    const scenario = await Scenario.open(t);
    const redis = await scenario.startRedis();
    const worker = scenario.spawn('worker', { REDIS_URL: redis.url });
    const queue = scenario.openQueue(redis.url);

    // The worker consumes before the fault.
    await scenario.addJob(queue, userCall());
    await scenario.waitForResults(1, 30_000);

    await redis.shutdown();
    await sleep(DOWN_MS);
    assert.ok(worker.running, 'the worker outlived 15 s without Redis');
    await redis.start();
    const backAt = performance.now();

    // Queued by a producer after the return, as an ingress would.
    const jobIds: string[] = [];
    for (let index = 0; index < JOBS_AFTER; index++) {
      jobIds.push(await scenario.addJob(queue, userCall()));
    }
    await scenario.waitForResults(2, CONSUME_BOUND_MS + 5_000);
    const firstMs = performance.now() - backAt;
    assert.ok(
      firstMs < CONSUME_BOUND_MS,
      `first job completed ${Math.round(firstMs)} ms after Redis returned, under ${CONSUME_BOUND_MS}`,
    );

    await scenario.waitForResults(1 + JOBS_AFTER, 30_000);
    const allMs = performance.now() - backAt;
    const stored = new Set(
      (await scenario.storedResults()).map((result) => result.jobId),
    );
    assert.ok(jobIds.every((jobId) => stored.has(jobId)));
    assert.equal(await scenario.countRecords(), 1 + JOBS_AFTER);
    const counts = await waitForNoPendingJob(queue, 10_000);
    assert.deepEqual(counts, EMPTY_QUEUE);
    assert.ok(worker.running, 'the same worker process did the work');

    report(t, {
      'Redis down (ms)': DOWN_MS,
      'first job done after its return (ms)': firstMs,
      [`all ${JOBS_AFTER} done after its return (ms)`]: allMs,
      results: 1 + JOBS_AFTER,
    });
  });
});
