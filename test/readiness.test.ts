import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { ProgressWatch } from '../src/health/progressWatch.ts';
import { RedisServer } from './faults/support.ts';
import { sparePort } from './sparePort.ts';
import {
  callApi,
  pageXml,
  startSibling,
  startTestService,
  userCall,
  waitFor,
  type TestService,
} from './harness.ts';

/** `/readyz` of the ingress and of a worker-only process (issue 6). */

const CREATE_WORKER = 'worker:phonebook-record-create';
const DELIVERY_WORKER = 'worker:webhook-deliveries';

interface Readiness {
  status: number;
  ready: boolean;
  checks: Record<string, string>;
}

async function readiness(app: FastifyInstance): Promise<Readiness> {
  const response = await app.inject('/readyz');
  const { ready, checks } = response.json() as Omit<Readiness, 'status'>;
  return { status: response.statusCode, ready, checks };
}

/** Asks until the answer has the status; returns that answer. */
function readinessTurns(app: FastifyInstance, status: number): Promise<Readiness> {
  return waitFor(`/readyz to answer ${status}`, async () => {
    const answer = await readiness(app);
    return answer.status === status ? answer : undefined;
  });
}

describe('readiness while Redis goes away and comes back', () => {
  let dir: string;
  let redis: RedisServer;
  let ingress: TestService;
  let worker: TestService;

  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'phonebook-readiness-redis-'));
    redis = new RedisServer(await sparePort(), dir);
    await redis.start();
    ingress = await startTestService(
      { REDIS_URL: redis.url },
      { ingress: true, worker: false },
    );
    worker = await startSibling(ingress, { ingress: false, worker: true });
  });

  after(async () => {
    // Stopping needs Redis, should a test have failed while it was down.
    if (!redis.running) await redis.start();
    await worker.dispose();
    await ingress.dispose();
    await redis.kill();
    await rm(dir, { recursive: true, force: true });
  });

  it('answers 200 on the ingress and on the worker health server while Redis answers', async () => {
    const atIngress = await readiness(ingress.app!);
    const atWorker = await readiness(worker.healthApp!);

    assert.equal(atIngress.status, 200);
    assert.equal(atIngress.checks.redis, 'ok');
    assert.equal(atWorker.status, 200);
    assert.equal(atWorker.checks[CREATE_WORKER], 'ok');
    assert.equal(atWorker.checks[DELIVERY_WORKER], 'ok');
  });

  it('answers 503 on both while Redis is down, naming Redis and the worker connections', async () => {
    await redis.shutdown();

    const atIngress = await readinessTurns(ingress.app!, 503);
    assert.equal(atIngress.ready, false);
    assert.notEqual(atIngress.checks.redis, 'ok');
    assert.equal(atIngress.checks.postgres, 'ok');

    const atWorker = await waitFor(
      'both workers to report their connection',
      async () => {
        const answer = await readiness(worker.healthApp!);
        const down = [CREATE_WORKER, DELIVERY_WORKER].every((name) =>
          /^(blocking )?connection (reconnecting|connecting)$/.test(
            answer.checks[name] ?? '',
          ),
        );
        return down ? answer : undefined;
      },
    );
    assert.equal(atWorker.status, 503);
  });

  it('answers /metrics within the read bound and without queue depth while Redis is down', async () => {
    const started = performance.now();
    const response = await worker.healthApp!.inject('/metrics');

    assert.equal(response.statusCode, 200);
    assert.ok(performance.now() - started < 3_000);
    assert.ok(response.body.includes('# TYPE phonebook_queue_jobs gauge'));
    assert.ok(!response.body.includes('phonebook_queue_jobs{'));
  });

  it('answers 200 again once Redis is back, and the same worker consumes', async () => {
    await redis.start();

    await readinessTurns(ingress.app!, 200);
    const atWorker = await readinessTurns(worker.healthApp!, 200);
    assert.equal(atWorker.checks[CREATE_WORKER], 'ok');

    const response = await callApi(ingress, { query: userCall() });
    assert.equal(response.body, pageXml('success', 'Record successfully added'));
  });
});

describe('readiness of a worker that is not consuming', () => {
  let service: TestService;
  before(async () => {
    service = await startTestService({}, { ingress: false, worker: true });
  });
  after(async () => {
    await service.dispose();
  });

  it('answers 503 naming the pause while a worker is paused, and 200 once it resumes', async () => {
    const { worker } = service.worker!;
    await worker.pause(true);

    const paused = await readiness(service.healthApp!);
    assert.equal(paused.status, 503);
    assert.equal(paused.checks[CREATE_WORKER], 'paused');

    worker.resume();
    assert.equal(
      (await readinessTurns(service.healthApp!, 200)).checks[CREATE_WORKER],
      'ok',
    );
  });

  it('answers 503 once a worker loop has ended', async () => {
    await service.deliveryWorker!.worker.close();

    const answer = await readiness(service.healthApp!);
    assert.equal(answer.status, 503);
    assert.equal(answer.checks[DELIVERY_WORKER], 'not running');
  });
});

describe('progress of a worker while jobs wait', () => {
  const TIMEOUT_MS = 1_000;
  let now = 0;
  const watch = () => new ProgressWatch(TIMEOUT_MS, () => now);

  it('calls a worker consuming however long it idled while no job waits', () => {
    now = 0;
    const progress = watch();
    now = 60_000;
    assert.equal(progress.consuming(0, 4), true);
  });

  it('does not call a worker stuck when jobs are first seen after a long idle', () => {
    now = 0;
    const progress = watch();
    now = 60_000;
    assert.equal(progress.consuming(5, 4), true);
  });

  it('calls a worker stuck once jobs waited past the timeout with a free slot and none taken', () => {
    now = 0;
    const progress = watch();
    assert.equal(progress.consuming(5, 4), true);
    now = TIMEOUT_MS + 1;
    assert.equal(progress.consuming(5, 4), false);
  });

  it('calls a worker consuming while it takes jobs from a long backlog', () => {
    now = 0;
    const progress = watch();
    progress.consuming(500, 4);
    for (now = 500; now <= 10_000; now += 500) {
      progress.noteProgress();
      assert.equal(progress.consuming(500, 4), true);
    }
  });

  it('calls a worker with every slot busy consuming, jobs waiting or not', () => {
    now = 0;
    const progress = watch();
    progress.consuming(5, 4);
    now = 10 * TIMEOUT_MS;
    assert.equal(progress.consuming(5, 0), true);
  });
});
