import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { CREATE_QUEUE, DELIVERY_QUEUE } from '../src/queue.ts';
import {
  callApi,
  countRecords,
  pageXml,
  REDIS_URL,
  startTestService,
  userCall,
  waitFor,
  type TestService,
} from './harness.ts';

/**
 * Issue 7: a drained queue leaves Redis as it found it. Finished jobs leave at once;
 * what stays is each queue's event stream, which BullMQ trims to the length in the
 * queue's meta key: QUEUE_EVENTS_MAX_LEN, written by every process that opens it.
 */

const MAX_LEN = 100;
/** Enough jobs to write several times MAX_LEN events (a job writes about four). */
const JOBS = 150;
/** BullMQ trims with `MAXLEN ~`: whole nodes of up to 100 entries (Redis's default). */
const TRIM_SLACK = 100;

describe('the event stream of a queue', () => {
  let service: TestService;
  let redis: Redis;
  const key = (queue: string, suffix: string) =>
    `${service.config.QUEUE_PREFIX}:${queue}:${suffix}`;

  before(async () => {
    service = await startTestService({ QUEUE_EVENTS_MAX_LEN: String(MAX_LEN) });
    redis = new Redis(REDIS_URL);
  });

  after(async () => {
    redis.disconnect();
    await service.dispose();
  });

  it('holds the configured length in both queues meta keys', async () => {
    for (const queue of [CREATE_QUEUE, DELIVERY_QUEUE]) {
      await waitFor(
        `${queue} meta`,
        async () => (await redis.hget(key(queue, 'meta'), 'opts.maxLenEvents')) !== null,
      );
      assert.equal(
        await redis.hget(key(queue, 'meta'), 'opts.maxLenEvents'),
        String(MAX_LEN),
      );
    }
  });

  it('stays near that length while many jobs run, and sync calls still get their answers', async () => {
    const answers = await Promise.all(
      Array.from({ length: JOBS }, () => callApi(service, { query: userCall() })),
    );
    assert.deepEqual(
      answers.map((answer) => answer.statusCode),
      answers.map(() => 200),
    );
    const added = pageXml('success', 'Record successfully added');
    assert.ok(answers.every((answer) => answer.body === added));
    assert.equal(await countRecords(service), JOBS);

    const length = await redis.xlen(key(CREATE_QUEUE, 'events'));
    assert.ok(length > 0, 'events were written');
    assert.ok(
      length <= MAX_LEN + TRIM_SLACK,
      `the stream holds ${length} events, more than about ${MAX_LEN}`,
    );
  });
});
