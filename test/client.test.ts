import assert from 'node:assert/strict';
import type { ServerResponse } from 'node:http';
import { after, before, describe, it } from 'node:test';
import {
  PhonebookClient,
  PhonebookClientError,
  signCall,
  type PendingAnswer,
} from '../src/client/phonebookClient.ts';
import { bareXml, EXAMPLE_HASH, pageXml, pendingXml } from './harness.ts';
import {
  closedPort,
  startListeningService,
  startStandIn,
  type ListeningService,
  type StandInServer,
} from './listeningService.ts';

/**
 * The client module for Node integrators (issue 8), over real HTTP: against the
 * service on a loopback port, and against a stand-in server for the answers the
 * service gives only under faults (a burst of 503, a job that failed for good).
 */

const ADDED = pageXml('success', 'Record successfully added');
const JOB_ID = '0f8e2a4c-5b6d-4e7f-8a9b-0c1d2e3f4a5b';

let open: ListeningService;
let limited: ListeningService;
const standIns: StandInServer[] = [];
let nextSpeeddial = 200;

before(async () => {
  open = await startListeningService();
  limited = await startListeningService({
    RATE_LIMIT_WINDOW_MS: '1000',
    RATE_LIMIT_PER_CALLER: '2',
  });
});

after(async () => {
  await Promise.all(standIns.map((standIn) => standIn.close()));
  await open.service.dispose();
  await limited.service.dispose();
});

function clientOf(url: string, options: { secret?: string; retryForMs?: number } = {}) {
  return new PhonebookClient({
    baseUrl: url,
    username: 'username',
    secret: options.secret ?? 'secret',
    retryForMs: options.retryForMs,
  });
}

function freshFields() {
  return {
    user_id: '2',
    number: '37060000000',
    name: 'Front desk',
    speeddial: String(nextSpeeddial++),
  };
}

async function standIn(answer: (index: number, response: ServerResponse) => void) {
  const server = await startStandIn(answer);
  standIns.push(server);
  return server;
}

function sendXml(response: ServerResponse, status: number, xml: string, headers = {}) {
  response.writeHead(status, { 'content-type': 'text/xml; charset=utf-8', ...headers });
  response.end(xml);
}

describe('signing', () => {
  it('signs the API page example with the key secret as the page prints it', () => {
    const params = signCall(
      'username',
      { user_id: '2', number: '920355666', name: 'phonebook', speeddial: '666' },
      'secret',
    );

    assert.deepEqual(params, {
      u: 'username',
      user_id: '2',
      number: '920355666',
      name: 'phonebook',
      speeddial: '666',
      hash: EXAMPLE_HASH,
    });
  });
});

describe('calls to the service', () => {
  it('creates a record in sync mode and returns the exact XML and its job id', async () => {
    const fields = freshFields();
    const answer = await clientOf(open.url).create(fields);

    assert.equal(answer.xml, ADDED);
    assert.deepEqual(answer.outcome, {
      kind: 'success',
      text: 'Record successfully added',
    });
    assert.equal(answer.httpStatus, 200);
    assert.match(answer.jobId ?? '', /^[0-9a-f-]{36}$/);
    const rows = await open.service
      .db('phonebook_records')
      .where({ speeddial: fields.speeddial });
    assert.equal(rows.length, 1);
  });

  it('submits in async mode, then polls the Location until the result is there', async () => {
    const client = clientOf(open.url);
    const submitted = await client.submit(freshFields(), { mode: 'async' });
    assert.equal(submitted.state, 'pending');

    const pending = submitted as PendingAnswer;
    assert.equal(pending.location, `${open.url}/billing/api/jobs/${pending.jobId}`);
    assert.equal(pending.retryAfterMs, 1_000);
    const done = await client.awaitResult(pending);

    assert.equal(done.jobId, pending.jobId);
    assert.equal(done.xml, ADDED);
  });

  it("returns MOR's exact error text, such as Speed dial must be unique", async () => {
    const client = clientOf(open.url);
    const fields = freshFields();
    await client.create(fields);

    const repeat = await client.create(fields, { mode: 'async' });

    assert.deepEqual(repeat.outcome, {
      kind: 'error',
      text: 'Speed dial must be unique',
    });
    assert.equal(repeat.xml, pageXml('error', 'Speed dial must be unique'));
  });

  it('answers Incorrect hash when the secret is not the scope secret', async () => {
    const answer = await clientOf(open.url, { secret: 'wrong' }).create(freshFields());

    assert.deepEqual(answer.outcome, { kind: 'error', text: 'Incorrect hash' });
    assert.equal(answer.xml, bareXml('Incorrect hash'));
  });

  it("gives a repeat with the same Idempotency-Key the first call's job and result", async () => {
    const client = clientOf(open.url);
    const fields = freshFields();
    const first = await client.create(fields, { mode: 'async', idempotencyKey: 'c-1' });

    const repeat = await client.create(fields, { mode: 'async', idempotencyKey: 'c-1' });

    assert.equal(repeat.jobId, first.jobId);
    assert.equal(repeat.xml, ADDED);
    const rows = await open.service
      .db('phonebook_records')
      .where({ speeddial: fields.speeddial });
    assert.equal(rows.length, 1);
  });

  it('returns the 422 refusal of a key reused with other params, with no job', async () => {
    const client = clientOf(open.url);
    await client.create(freshFields(), { idempotencyKey: 'c-2' });

    const other = await client.create(freshFields(), { idempotencyKey: 'c-2' });

    assert.equal(other.httpStatus, 422);
    assert.equal(other.jobId, undefined);
    assert.deepEqual(other.outcome, {
      kind: 'error',
      text: 'Idempotency-Key was already used with other params',
    });
  });

  it('waits out 429 answers and gets every call through a rate-limited service', async () => {
    const client = clientOf(limited.url);
    const calls = Array.from({ length: 6 }, () => client.create(freshFields()));

    const answers = await Promise.all(calls);

    assert.deepEqual(
      answers.map((answer) => answer.outcome.text),
      Array(6).fill('Record successfully added'),
    );
    const refused = limited.service.logs.lines.filter((line) =>
      line.includes('"outcome":"RATE_LIMITED"'),
    );
    assert.ok(refused.length > 0, 'no call was refused with 429');
  });
});

describe('answers the service gives under faults', () => {
  it('retries a 503 with backoff, resending the same Idempotency-Key', async () => {
    const server = await standIn((index, response) => {
      if (index < 2) {
        sendXml(
          response,
          503,
          bareXml('Service temporarily unavailable, try again later'),
        );
      } else {
        sendXml(response, 200, ADDED, {
          'content-location': `/billing/api/jobs/${JOB_ID}`,
        });
      }
    });

    const answer = await clientOf(server.url).create(freshFields(), {
      idempotencyKey: 'k-503',
    });

    assert.equal(answer.xml, ADDED);
    assert.equal(answer.jobId, JOB_ID);
    assert.deepEqual(
      server.requests.map((request) => request.headers['idempotency-key']),
      ['k-503', 'k-503', 'k-503'],
    );
  });

  it('reports a job that failed for good as failed, without polling again', async () => {
    const failed = bareXml('Job failed: database unavailable');
    const server = await standIn((index, response) => {
      if (index === 0) {
        sendXml(response, 202, pendingXml(JOB_ID, 'waiting'), {
          location: `/billing/api/jobs/${JOB_ID}`,
          'retry-after': '0',
        });
      } else {
        sendXml(response, 503, failed);
      }
    });

    const answer = await clientOf(server.url).create(freshFields(), { mode: 'async' });

    assert.deepEqual(answer.outcome, {
      kind: 'failed',
      text: 'Job failed: database unavailable',
    });
    assert.equal(answer.jobId, JOB_ID);
    assert.equal(server.requests.length, 2);
    assert.equal(server.requests[1]?.url, `/billing/api/jobs/${JOB_ID}`);
  });

  it('sends the hash but never the secret', async () => {
    const server = await standIn((_index, response) => sendXml(response, 200, ADDED));

    await clientOf(server.url, { secret: 'n0t-on-the-wire' }).create(freshFields());

    const [request] = server.requests;
    assert.match(request?.body ?? '', /&hash=[0-9a-f]{40}$/);
    assert.doesNotMatch(JSON.stringify(request), /n0t-on-the-wire/);
  });

  it('gives up on an unreachable service after its retry budget', async () => {
    const url = await closedPort();
    const client = clientOf(url, { retryForMs: 600 });

    await assert.rejects(
      client.create(freshFields(), { idempotencyKey: 'k-unreachable' }),
      (error) =>
        error instanceof PhonebookClientError &&
        error.reason === 'unreachable' &&
        error.message === `cannot reach the service at ${url} (ECONNREFUSED)`,
    );
  });

  it('calls an answer that is not the service unexpected, naming status and path', async () => {
    const server = await standIn((_index, response) => {
      response.writeHead(404, { 'content-type': 'text/html' });
      response.end('<html>nothing here</html>');
    });

    await assert.rejects(
      clientOf(server.url).create(freshFields()),
      (error) =>
        error instanceof PhonebookClientError &&
        error.reason === 'unexpected-answer' &&
        error.message ===
          `unexpected answer HTTP 404 from ${server.url}/billing/api/phonebook_record_create`,
    );
  });

  it('stops polling at once when its signal aborts', async () => {
    const server = await standIn((_index, response) =>
      sendXml(response, 202, pendingXml(JOB_ID, 'waiting'), {
        location: `/billing/api/jobs/${JOB_ID}`,
        'retry-after': '1',
      }),
    );
    const controller = new AbortController();
    const started = Date.now();
    setTimeout(() => controller.abort(), 1_500);

    await assert.rejects(
      clientOf(server.url).create(freshFields(), {
        mode: 'async',
        signal: controller.signal,
      }),
      { name: 'AbortError' },
    );
    assert.ok(Date.now() - started < 2_500, 'the abort was not prompt');
  });
});
