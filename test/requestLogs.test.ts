import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  callApi,
  pageXml,
  sign,
  startSibling,
  startTestService,
  waitFor,
  type TestService,
} from './harness.ts';

/**
 * The logging policy (../shared/STYLE.md): one line per request and per job, with ids,
 * outcome and duration; 5xx at error, 4xx at info; never a payload or a secret.
 */

const SECRET = 'LogProbeSecret-2b9d';
const NAME = 'Zebra Logprobe';
const NUMBER = '37069990001';
const PASSWORD = 'LogProbePassword-41';
const BOARD_PASSWORD = 'BoardProbePassword-6e';
const WRONG_BOARD_PASSWORD = 'WrongBoardPassword-9f';
const ERROR_LEVEL = 50;
const INFO_LEVEL = 30;

interface Line {
  level: number;
  msg: string;
  [field: string]: unknown;
}

let service: TestService;
let sibling: TestService;
const sentHashes: string[] = [];
const statuses: number[] = [];

function signedCall(speeddial: string): Record<string, string> {
  const fields = { user_id: '2', number: NUMBER, name: NAME, speeddial };
  const signed = sign(fields, SECRET);
  sentHashes.push(signed.hash!);
  return { u: 'username', ...signed, p: PASSWORD };
}

function basic(password: string) {
  const encoded = Buffer.from(`log-ops:${password}`).toString('base64');
  return { authorization: `Basic ${encoded}` };
}

function lines(of: TestService): Line[] {
  return of.logs.lines.map((line) => JSON.parse(line) as Line);
}

before(async () => {
  service = await startTestService({ BOARD_USERNAME: 'log-ops', BOARD_PASSWORD });
  await service
    .db('settings')
    .insert({ scope_owner_id: 0, name: 'API_Secret_Key', value: SECRET })
    .onConflict(['scope_owner_id', 'name'])
    .merge();
  sibling = await startSibling(service, { ingress: true, worker: false });

  const send = async (target: TestService, call: Parameters<typeof callApi>[1]) => {
    const response = await callApi(target, call);
    statuses.push(response.statusCode);
    return response;
  };
  const added = await send(service, { query: signedCall('4401') });
  assert.equal(added.body, pageXml('success', 'Record successfully added'));
  await send(service, { query: { ...signedCall('4402'), hash: 'a'.repeat(40) } });
  sentHashes.push('a'.repeat(40));
  await send(service, { query: { ...signedCall('4403'), 'name[]': NAME } });
  await send(service, { method: 'GET', path: '/billing/api/jobs/not-a-job' });
  await send(service, {
    method: 'GET',
    path: '/admin/queues',
    headers: basic(WRONG_BOARD_PASSWORD),
  });
  await send(service, {
    method: 'GET',
    path: '/admin/queues',
    headers: basic(BOARD_PASSWORD),
  });

  // The sibling ingress has lost its Redis: its answer is a 503.
  (await sibling.queue.client).disconnect();
  await send(sibling, { query: signedCall('4404') });

  await waitFor('both job lines', () =>
    lines(service).filter((line) => line.msg === 'job').length === 2 ? true : undefined,
  );
});

after(async () => {
  await sibling.dispose();
  await service.dispose();
});

describe('log lines of requests and jobs', () => {
  it('sent the traffic the checks below read: 2xx, 4xx and 5xx answers', () => {
    assert.deepEqual(statuses, [200, 200, 400, 404, 401, 200, 503]);
  });

  it('writes one request line per request, with its id, route, status, outcome and duration', () => {
    const requests = [...lines(service), ...lines(sibling)].filter(
      (l) => l.msg === 'request',
    );

    assert.deepEqual(
      requests.map((line) => line.status),
      statuses,
    );
    for (const line of requests) {
      assert.equal(typeof line.requestId, 'string');
      assert.equal(typeof line.route, 'string');
      assert.equal(typeof line.durationMs, 'number');
    }
    assert.deepEqual(
      requests.map((line) => line.outcome ?? null),
      [
        'completed',
        'completed',
        'PARAM_NOT_TEXT',
        'JOB_NOT_FOUND',
        'UNAUTHORIZED',
        null,
        'QUEUE_UNAVAILABLE',
      ],
    );
  });

  it('logs a 5xx answer at error, and 2xx and 4xx answers at info', () => {
    const requests = [...lines(service), ...lines(sibling)].filter(
      (l) => l.msg === 'request',
    );

    for (const line of requests) {
      const expected = Number(line.status) >= 500 ? ERROR_LEVEL : INFO_LEVEL;
      assert.equal(line.level, expected, `status ${String(line.status)}`);
    }
  });

  it('writes one job line per job, with its id, MOR answer and duration', () => {
    const jobs = lines(service).filter((line) => line.msg === 'job');

    assert.deepEqual(jobs.map((line) => line.outcome).sort(), [
      'Incorrect hash',
      'Record successfully added',
    ]);
    for (const line of jobs) {
      assert.match(String(line.jobId), /^[0-9a-f-]{36}$/);
      assert.equal(typeof line.durationMs, 'number');
    }
  });

  it('writes no secret, hash, name, number, password or credential anywhere', () => {
    const text = [service.logs.text, sibling.logs.text].join('\n');
    const probes = [
      SECRET,
      NAME,
      NUMBER,
      PASSWORD,
      BOARD_PASSWORD,
      WRONG_BOARD_PASSWORD,
      basic(BOARD_PASSWORD).authorization,
      basic(WRONG_BOARD_PASSWORD).authorization,
      ...sentHashes,
    ];
    for (const probe of probes) {
      assert.ok(!text.includes(probe), `a log line holds ${probe}`);
    }
  });
});
