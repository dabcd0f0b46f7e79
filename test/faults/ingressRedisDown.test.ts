import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { bareXml, pageXml, userCall } from '../harness.ts';
import {
  type CallResponse,
  EMPTY_QUEUE,
  postCall,
  queueCounts,
  report,
  Scenario,
  sleep,
  waitFor,
} from './support.ts';

/**
 * Scenario 4 of issue 3: the ingress's Redis stops. Calls must be refused with 503 at
 * once, never hang, never crash the process (../shared/DESIGN.md section 3), and the
 * same process must take calls again once Redis is back.
 */

const ADDED = pageXml('success', 'Record successfully added');
const UNAVAILABLE = bareXml('Service temporarily unavailable, try again later');

/** The bound the issue sets on a refusal while Redis is down. */
const REFUSAL_BOUND_MS = 1_000;
const DOWN_MS = 5_000;

describe('fault: the ingress loses its Redis', () => {
  it('answers 503 with the XML error within 1 s while Redis is down, stays up, and takes calls again after', async (t) => {
    const scenario = await Scenario.open(t);
    const redis = await scenario.startRedis();
    const env = { REDIS_URL: redis.url };
    const { service: ingress, baseUrl } = await scenario.startIngress(env);
    scenario.spawn('worker', env);

    const before = await postCall(baseUrl, userCall(), { async: false });
    assert.equal(before.status, 200);
    assert.equal(before.body, ADDED);

    await redis.shutdown();
    const downAt = performance.now();

    // Sync and async calls, one after another for 5 s while the ingress keeps trying
    // to reconnect, then ten at once.
    const refused: CallResponse[] = [];
    for (let index = 0; performance.now() - downAt < DOWN_MS; index++) {
      const async = index % 2 === 0;
      refused.push(await postCall(baseUrl, userCall(), { async, timeoutMs: 5_000 }));
      await sleep(100);
    }
    refused.push(
      ...(await Promise.all(
        Array.from({ length: 10 }, () =>
          postCall(baseUrl, userCall(), { timeoutMs: 5_000 }),
        ),
      )),
    );
    for (const answer of refused) {
      assert.equal(answer.status, 503);
      assert.equal(answer.contentType, 'text/xml; charset=utf-8');
      assert.equal(answer.body, UNAVAILABLE);
      assert.ok(
        answer.elapsedMs < REFUSAL_BOUND_MS,
        `refused in ${Math.round(answer.elapsedMs)} ms, under ${REFUSAL_BOUND_MS}`,
      );
    }

    assert.ok(ingress.running, 'the ingress process is alive');
    const health = await fetch(`${baseUrl}/healthz`);
    assert.equal(health.status, 200);

    await redis.start();
    const backAt = performance.now();
    const after = await waitFor(
      'the ingress to take a call again',
      async () => {
        const answer = await postCall(baseUrl, userCall(), {
          async: false,
          timeoutMs: 15_000,
        });
        return answer.status === 503 ? undefined : answer;
      },
      20_000,
      250,
    );
    const acceptingMs = performance.now() - backAt;
    assert.equal(after.status, 200);
    assert.equal(after.body, ADDED);
    assert.ok(ingress.running, 'the same ingress process took the call');

    // A refused call was not queued: only the calls answered 200 were stored.
    assert.deepEqual(await queueCounts(scenario.openQueue(redis.url)), EMPTY_QUEUE);
    assert.equal(await scenario.countResults(), 2);
    assert.equal(await scenario.countRecords(), 2);

    const slowest = Math.max(...refused.map((answer) => answer.elapsedMs));
    report(t, {
      'refused with 503': refused.length,
      'slowest refusal (ms)': slowest,
      'accepting again after Redis returned (ms)': acceptingMs,
      results: 2,
      records: 2,
    });
  });
});
