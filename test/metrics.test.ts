import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { CREATE_JOB, createJobOptions } from '../src/queue.ts';
import {
  callApi,
  pageXml,
  startTestService,
  userCall,
  waitFor,
  type TestService,
} from './harness.ts';
import { deliveryEnded, sendCallback, WebhookReceiver } from './webhookReceiver.ts';

/** Prometheus `/metrics` of the ingress (issue 6). */

const ADDED = pageXml('success', 'Record successfully added');
const UNKNOWN_JOB = '/billing/api/jobs/00000000-0000-4000-8000-000000000000';

let service: TestService;
let receiver: WebhookReceiver;
let exposition: string;
const sentHashes: string[] = [];
const jobIds: string[] = [];

/** The value of the sample written exactly so, or undefined when there is none. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((candidate) => candidate.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

before(async () => {
  service = await startTestService({ WEBHOOK_ALLOWLIST: '127.0.0.1' });
  receiver = await WebhookReceiver.start();

  const added = userCall();
  const wrongHash = { ...userCall(), hash: 'f'.repeat(40) };
  sentHashes.push(added.hash!, wrongHash.hash);
  assert.equal((await callApi(service, { query: added })).body, ADDED);
  await callApi(service, { query: wrongHash });
  assert.equal(
    (await callApi(service, { method: 'GET', path: UNKNOWN_JOB })).statusCode,
    404,
  );

  const callback = userCall({ callback_url: receiver.url() });
  sentHashes.push(callback.hash!);
  const callbackJob = await sendCallback(service, callback);
  jobIds.push(callbackJob);
  await deliveryEnded(service, callbackJob);

  // A job due in an hour: counted as delayed, and never run by this test.
  await service.queue.add(
    CREATE_JOB,
    { method: 'POST', params: {}, acceptedAtMs: Date.now() },
    { ...createJobOptions(service.config, crypto.randomUUID()), delay: 3_600_000 },
  );

  // The delivery job's own duration is observed once its run returns.
  exposition = await waitFor('the delivery job to be timed', async () => {
    const text = (await service.app!.inject('/metrics')).body;
    const series =
      'phonebook_job_duration_seconds_count{queue="webhook-deliveries",outcome="completed"}';
    return sample(text, series) === 1 ? text : undefined;
  });
});

after(async () => {
  await receiver.close();
  await service.dispose();
});

describe('GET /metrics on the ingress', () => {
  it('answers the Prometheus text format', async () => {
    const response = await service.app!.inject('/metrics');

    assert.equal(response.statusCode, 200);
    assert.equal(
      response.headers['content-type'],
      'text/plain; version=0.0.4; charset=utf-8',
    );
  });

  it('declares every family of the service and of BullMQ with its type, once', () => {
    const families = {
      phonebook_http_requests_total: 'counter',
      phonebook_http_request_duration_seconds: 'histogram',
      phonebook_mor_answers_total: 'counter',
      phonebook_job_duration_seconds: 'histogram',
      phonebook_webhook_attempts_total: 'counter',
      phonebook_queue_jobs: 'gauge',
      bullmq_job_count: 'gauge',
      bullmq_job_completed_total: 'counter',
      bullmq_job_failed_total: 'counter',
      process_cpu_seconds_total: 'counter',
    };
    const lines = exposition.split('\n');
    for (const [name, type] of Object.entries(families)) {
      const typeLines = lines.filter((line) => line.startsWith(`# TYPE ${name} `));
      assert.deepEqual(typeLines, [`# TYPE ${name} ${type}`], name);
      const helpLines = lines.filter((line) => line.startsWith(`# HELP ${name} `));
      assert.equal(helpLines.length, 1, `one HELP line for ${name}`);
    }
  });

  it('counts requests by route pattern, status class and outcome', () => {
    const create = '/billing/api/phonebook_record_create';
    assert.equal(
      sample(
        exposition,
        `phonebook_http_requests_total{route="${create}",status_class="2xx",outcome="completed"}`,
      ),
      2,
    );
    assert.equal(
      sample(
        exposition,
        'phonebook_http_requests_total{route="/billing/api/jobs/:id",status_class="4xx",outcome="JOB_NOT_FOUND"}',
      ),
      1,
    );
    assert.equal(
      sample(
        exposition,
        `phonebook_http_request_duration_seconds_count{route="${create}"}`,
      ),
      3,
    );
  });

  it('counts stored results by MOR answer text', () => {
    assert.equal(
      sample(exposition, 'phonebook_mor_answers_total{text="Record successfully added"}'),
      2,
    );
    assert.equal(
      sample(exposition, 'phonebook_mor_answers_total{text="Incorrect hash"}'),
      1,
    );
  });

  it('times job attempts by queue and how they ended', () => {
    assert.equal(
      sample(
        exposition,
        'phonebook_job_duration_seconds_count{queue="phonebook-record-create",outcome="completed"}',
      ),
      3,
    );
    assert.ok(
      exposition.includes(
        'phonebook_job_duration_seconds_bucket{le="+Inf",queue="webhook-deliveries",outcome="completed"} 1',
      ),
    );
  });

  it('counts webhook attempts by the status class the receiver answered', () => {
    assert.equal(receiver.received.length, 1);
    assert.equal(
      sample(exposition, 'phonebook_webhook_attempts_total{outcome="2xx"}'),
      1,
    );
  });

  it('reads the depth of both queues by state from Redis at scrape time', () => {
    const depth = (queue: string, state: string) =>
      sample(exposition, `phonebook_queue_jobs{queue="${queue}",state="${state}"}`);

    assert.equal(depth('phonebook-record-create', 'delayed'), 1);
    assert.equal(depth('phonebook-record-create', 'waiting'), 0);
    assert.equal(depth('webhook-deliveries', 'waiting'), 0);
    assert.equal(depth('webhook-deliveries', 'failed'), 0);
  });

  it("appends BullMQ's own export for both queues", () => {
    assert.equal(
      sample(
        exposition,
        'bullmq_job_count{queue="phonebook-record-create", state="delayed"}',
      ),
      1,
    );
    assert.equal(
      sample(exposition, 'bullmq_job_completed_total{queue="phonebook-record-create"}'),
      3,
    );
    assert.equal(
      sample(exposition, 'bullmq_job_completed_total{queue="webhook-deliveries"}'),
      1,
    );
  });

  it('puts no job id, username, hash or record field in any label', () => {
    for (const probe of [
      ...jobIds,
      ...sentHashes,
      'username',
      'Front desk',
      '37060000000',
    ]) {
      assert.ok(!exposition.includes(probe), `the exposition holds ${probe}`);
    }
  });
});
