import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { pageXml, userCall } from '../harness.ts';
import {
  EMPTY_QUEUE,
  postCall,
  queueCounts,
  report,
  Scenario,
  sleep,
  waitFor,
} from './support.ts';

/**
 * Scenario 6 of issue 3: SIGTERM (../shared/DESIGN.md section 4). Active jobs finish
 * within SHUTDOWN_GRACE_MS and the process exits 0; with Redis down it still exits
 * within the grace.
 */

const ADDED = pageXml('success', 'Record successfully added');

const GRACE_MS = 8_000;
const CONCURRENCY = 4;
const QUEUED = 6;

describe('fault: SIGTERM', () => {
  it('lets active jobs finish, takes no new ones, and exits 0 within SHUTDOWN_GRACE_MS', async (t) => {
    const scenario = await Scenario.open(t);
    const worker = scenario.spawn('worker', {
      WORKER_CONCURRENCY: String(CONCURRENCY),
      SHUTDOWN_GRACE_MS: String(GRACE_MS),
    });
    const queue = scenario.openQueue();
    await waitFor(
      'the worker to connect',
      async () => (await queue.getWorkersCount()) === 1,
      30_000,
    );

    // Active jobs wait inside their transaction for a row the test holds.
    const rowLock = await scenario.lockUserRow(2);
    for (let index = 0; index < QUEUED; index++) await scenario.addJob(queue, userCall());
    await scenario.waitForHeldJobs(queue, CONCURRENCY, 30_000);
    assert.deepEqual(await queueCounts(queue), {
      ...EMPTY_QUEUE,
      waiting: QUEUED - CONCURRENCY,
      active: CONCURRENCY,
    });

    worker.signal('SIGTERM');
    const termAt = performance.now();
    await sleep(1_000);
    assert.ok(worker.running, 'the worker waits for its active jobs');
    assert.equal(await scenario.countResults(), 0);
    await rowLock.release();

    const exit = await worker.exitWithin(GRACE_MS + 10_000);
    const exitMs = performance.now() - termAt;
    assert.deepEqual(exit, { code: 0, signal: null });
    assert.ok(
      exitMs < GRACE_MS,
      `exited ${Math.round(exitMs)} ms after SIGTERM, under ${GRACE_MS}`,
    );

    const results = await scenario.storedResults();
    assert.equal(results.length, CONCURRENCY, 'every active job finished');
    assert.ok(results.every((result) => result.resultXml === ADDED));
    assert.equal(await scenario.countRecords(), CONCURRENCY);
    assert.deepEqual(
      await queueCounts(queue),
      { ...EMPTY_QUEUE, waiting: QUEUED - CONCURRENCY },
      'the waiting jobs stay queued for another worker',
    );

    report(t, {
      'active jobs finished after SIGTERM': results.length,
      'left waiting': QUEUED - CONCURRENCY,
      'exit code': exit?.code ?? 'none',
      'exit after SIGTERM (ms)': exitMs,
      'grace (ms)': GRACE_MS,
    });
  });

  it('exits within SHUTDOWN_GRACE_MS when SIGTERM comes while Redis is down', async (t) => {
    const scenario = await Scenario.open(t);
    const redis = await scenario.startRedis();
    const grace = 5_000;
    // Both parts in one process: the ingress, its queue events and the worker all stop.
    const { service, baseUrl } = await scenario.startIngress(
      { REDIS_URL: redis.url, SHUTDOWN_GRACE_MS: String(grace) },
      'both',
    );
    const before = await postCall(baseUrl, userCall(), { async: false });
    assert.equal(before.body, ADDED);

    await redis.shutdown();
    await sleep(1_000);
    service.signal('SIGTERM');
    const termAt = performance.now();

    const exit = await service.exitWithin(grace + 10_000);
    const exitMs = performance.now() - termAt;
    assert.deepEqual(exit, { code: 0, signal: null });
    assert.ok(
      exitMs < grace,
      `exited ${Math.round(exitMs)} ms after SIGTERM, under ${grace}`,
    );

    report(t, {
      'exit code': exit?.code ?? 'none',
      'exit after SIGTERM with Redis down (ms)': exitMs,
      'grace (ms)': grace,
    });
  });
});
