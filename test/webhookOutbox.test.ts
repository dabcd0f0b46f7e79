import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, afterEach, before, beforeEach, describe, it } from 'node:test';
import { processCall } from '../src/processCall.ts';
import { CREATE_JOB, createJobOptions, deliveryJobId } from '../src/queue.ts';
import { DeliveryNotFailedError, resendDelivery } from '../src/resendDelivery.ts';
import type { CallJobData } from '../src/types.ts';
import { startTestService, userCall, type TestService } from './harness.ts';
import { deliveryEnded, sendCallback, WebhookReceiver } from './webhookReceiver.ts';

/**
 * Exactly one logical delivery per call (issue 4): the delivery row commits with the
 * result (an outbox), and a delivery lost between that commit and its queueing is
 * queued by a re-run of the create job or by the worker's sweep, never twice.
 */

let receiver: WebhookReceiver;

beforeEach(async () => {
  receiver = await WebhookReceiver.start();
});

afterEach(async () => {
  await receiver.close();
});

function callData(): CallJobData {
  return {
    method: 'POST',
    params: userCall({ callback_url: receiver.url() }),
    acceptedAtMs: Date.now(),
  };
}

/** The create job's transaction as the worker runs it, without the queueing after it. */
async function commitWithoutQueueing(service: TestService, data: CallJobData) {
  const jobId = randomUUID();
  const processed = await processCall(
    service.db,
    jobId,
    data,
    service.config.RESULT_RETENTION_HOURS,
  );
  assert.equal(processed.deliveryPending, true);
  return jobId;
}

function logLines(service: TestService, msg: string, jobId?: string) {
  return service.logs.lines
    .map((line) => JSON.parse(line) as Record<string, unknown>)
    .filter((line) => line.msg === msg && (jobId === undefined || line.jobId === jobId));
}

async function until(condition: () => boolean | Promise<boolean>, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('the sweep', () => {
  let service: TestService;

  before(async () => {
    service = await startTestService({
      WEBHOOK_ALLOWLIST: '127.0.0.1',
      WEBHOOK_BACKOFF_MS: '800',
      WEBHOOK_SWEEP_MS: '200',
    });
  });

  after(async () => {
    await service.dispose();
  });

  it('delivers exactly once when the worker died between its commit and queueing the delivery', async () => {
    const jobId = await commitWithoutQueueing(service, callData());
    const job = await service.deliveryQueue!.getJob(deliveryJobId(jobId));
    assert.equal(job, undefined);

    const status = await deliveryEnded(service, jobId);
    assert.equal(status.state, 'delivered');
    await sleep(600);

    assert.deepEqual(
      receiver.received.map((request) => request.headers['webhook-id']),
      [jobId],
    );
  });

  it('queues nothing twice while a delivery waits for its retry', async () => {
    receiver.replyWith({ status: 500 });
    const jobId = await sendCallback(service, userCall({ callback_url: receiver.url() }));
    await until(() => receiver.received.length === 1);
    const sweepsBefore = logLines(service, 'delivery sweep').length;

    const status = await deliveryEnded(service, jobId);
    assert.deepEqual(
      status.attempts.map((attempt) => attempt.statusCode),
      [500, 204],
    );
    assert.ok(logLines(service, 'delivery sweep').length > sweepsBefore);
    await sleep(600);
    assert.equal(receiver.received.length, 2);
  });
});

describe('re-runs of the create job, and resends', () => {
  let service: TestService;

  before(async () => {
    service = await startTestService({
      WEBHOOK_ALLOWLIST: '127.0.0.1',
      WEBHOOK_BACKOFF_MS: '50',
      WEBHOOK_SWEEP_MS: '3600000',
    });
  });

  after(async () => {
    await service.dispose();
  });

  async function runCreateJobAgain(jobId: string, data: CallJobData, run: number) {
    await service.queue.add(CREATE_JOB, data, createJobOptions(service.config, jobId));
    await until(() => logLines(service, 'job', jobId).length === run);
  }

  it('queues the delivery from a re-run that finds the result stored, and never after it ended', async () => {
    const data = callData();
    const jobId = await commitWithoutQueueing(service, data);
    await sleep(300);
    assert.equal(receiver.connections, 0);

    await runCreateJobAgain(jobId, data, 1);
    assert.equal((await deliveryEnded(service, jobId)).state, 'delivered');

    await runCreateJobAgain(jobId, data, 2);
    assert.equal(logLines(service, 'job', jobId)[1]?.deliveryPending, false);
    await sleep(300);
    assert.equal(receiver.received.length, 1);
  });

  it('resends a failed delivery with the same webhook-id once an operator asks', async () => {
    receiver.replyWith({ status: 410 });
    const jobId = await sendCallback(service, userCall({ callback_url: receiver.url() }));
    assert.equal((await deliveryEnded(service, jobId)).state, 'failed');

    const deps = {
      db: service.db,
      config: service.config,
      queue: service.deliveryQueue!,
    };
    await resendDelivery(deps, jobId);
    const status = await deliveryEnded(service, jobId);

    assert.equal(status.state, 'delivered');
    assert.equal(status.reason, null);
    assert.deepEqual(
      status.attempts.map((attempt) => attempt.statusCode),
      [410, 204],
    );
    assert.deepEqual(
      receiver.received.map((request) => request.headers['webhook-id']),
      [jobId, jobId],
    );
  });

  it('refuses to resend a delivery that has not failed, or a job that has none', async () => {
    const jobId = await sendCallback(service, userCall({ callback_url: receiver.url() }));
    await deliveryEnded(service, jobId);
    const deps = {
      db: service.db,
      config: service.config,
      queue: service.deliveryQueue!,
    };

    for (const id of [jobId, randomUUID(), 'not-a-job-id']) {
      await assert.rejects(resendDelivery(deps, id), DeliveryNotFailedError);
    }
    await sleep(200);
    assert.equal(receiver.received.length, 1);
  });
});
