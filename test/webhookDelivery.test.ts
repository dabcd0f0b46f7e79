import assert from 'node:assert/strict';
import { after, afterEach, before, beforeEach, describe, it } from 'node:test';
import {
  bareXml,
  callApi,
  pageXml,
  sign,
  startTestService,
  userCall,
  type TestService,
} from './harness.ts';
import {
  deliveryEnded,
  fixedLookup,
  sendCallback,
  signatureValid,
  WebhookReceiver,
} from './webhookReceiver.ts';

/** Webhook delivery of results to callback_url (../shared/DESIGN.md section 3; issue 4). */

const ADDED = pageXml('success', 'Record successfully added');

let service: TestService;
let receiver: WebhookReceiver;
let dnsAsked = 0;

const lookupHost = fixedLookup({
  // The first question fails as a DNS outage would; later ones answer loopback.
  'hooks.test': () => {
    dnsAsked++;
    if (dnsAsked === 1)
      throw Object.assign(new Error('EAI_AGAIN'), { code: 'EAI_AGAIN' });
    return [{ address: '127.0.0.1', family: 4 }];
  },
});

before(async () => {
  service = await startTestService(
    {
      WEBHOOK_ALLOWLIST: '127.0.0.1',
      WEBHOOK_BACKOFF_MS: '50,50',
      WEBHOOK_TIMEOUT_MS: '500',
      WEBHOOK_RETRY_AFTER_CAP_MS: '5000',
    },
    { ingress: true, worker: true },
    { lookupHost },
  );
  await service.db('users').insert([
    { id: 6, username: 'quiet_reseller', usertype: 'reseller', owner_id: 0 },
    { id: 7, username: 'quiet_user', usertype: 'user', owner_id: 6 },
    { id: 9, username: 'blank_reseller', usertype: 'reseller', owner_id: 0 },
    { id: 10, username: 'nohash_reseller', usertype: 'reseller', owner_id: 0 },
  ]);
  await service.db('settings').insert([
    { scope_owner_id: 9, name: 'Allow_API', value: '1' },
    { scope_owner_id: 9, name: 'API_Secret_Key', value: ' ' },
    { scope_owner_id: 10, name: 'Allow_API', value: '1' },
    { scope_owner_id: 10, name: 'API_Disable_hash_checking', value: '1' },
  ]);
});

after(async () => {
  await service.dispose();
});

beforeEach(async () => {
  receiver = await WebhookReceiver.start();
});

afterEach(async () => {
  await receiver.close();
});

function statusCodes(status: { attempts: Array<{ statusCode: number | null }> }) {
  return status.attempts.map((attempt) => attempt.statusCode);
}

describe('a delivered webhook', () => {
  it('POSTs the stored result once, byte for byte, signed as Standard Webhooks', async () => {
    const jobId = await sendCallback(service, userCall({ callback_url: receiver.url() }));
    const status = await deliveryEnded(service, jobId);

    assert.equal(status.state, 'delivered');
    assert.equal(receiver.received.length, 1);
    const [request] = receiver.received;
    assert.ok(request);
    assert.equal(request.method, 'POST');
    assert.equal(request.path, '/hook');
    assert.equal(request.headers['content-type'], 'text/xml; charset=utf-8');
    assert.equal(request.headers['webhook-id'], jobId);
    assert.match(String(request.headers['webhook-timestamp']), /^\d{10}$/);
    assert.ok(signatureValid(request, 'secret'));
    assert.equal(request.body.toString('utf8'), ADDED);

    const polled = await callApi(service, { method: 'GET', path: `/api/jobs/${jobId}` });
    assert.deepEqual(request.body, Buffer.from(polled.body, 'utf8'));
  });

  it('keeps the path and query string of the callback_url as signed', async () => {
    const url = receiver.url('/in/hooks?tenant=7&token=a%2Fb');
    const jobId = await sendCallback(service, userCall({ callback_url: url }));
    await deliveryEnded(service, jobId);
    assert.equal(receiver.received[0]?.path, '/in/hooks?tenant=7&token=a%2Fb');
  });

  it('delivers the error XML of a call answered after its hash verified', async () => {
    const params = userCall({ user_id: '999', callback_url: receiver.url() });
    const jobId = await sendCallback(service, params);
    const status = await deliveryEnded(service, jobId);

    assert.equal(status.state, 'delivered');
    assert.equal(
      receiver.received[0]?.body.toString('utf8'),
      pageXml('error', 'User was not found'),
    );
  });

  it('signs with the scope secret as it stands at each attempt', async () => {
    const reseller = (secret: string) => ({
      u: 'reseller',
      ...sign(
        {
          user_id: '3',
          number: '5',
          name: 'R',
          speeddial: '41',
          callback_url: receiver.url(),
        },
        secret,
      ),
    });
    receiver.replyWith({
      status: 500,
      before: async () => {
        await service
          .db('settings')
          .where({ scope_owner_id: 3, name: 'API_Secret_Key' })
          .update({ value: 'rotated' });
      },
    });
    try {
      const jobId = await sendCallback(service, reseller('rsecret'));
      await deliveryEnded(service, jobId);
    } finally {
      await service
        .db('settings')
        .where({ scope_owner_id: 3, name: 'API_Secret_Key' })
        .update({ value: 'rsecret' });
    }

    const [first, second] = receiver.received;
    assert.ok(first && second);
    assert.ok(signatureValid(first, 'rsecret'));
    assert.ok(signatureValid(second, 'rotated'));
    assert.ok(!signatureValid(second, 'rsecret'));
  });

  it('ends the delivery failed without sending when the scope has no secret to sign with', async () => {
    const params = {
      u: 'nohash_reseller',
      user_id: '10',
      number: '5',
      name: 'N',
      speeddial: '42',
      callback_url: receiver.url(),
    };
    const jobId = await sendCallback(service, params);
    const status = await deliveryEnded(service, jobId);

    assert.equal(status.state, 'failed');
    assert.equal(
      status.reason,
      'the caller scope has no API secret to sign the delivery with',
    );
    assert.equal(receiver.connections, 0);
  });
});

describe('retries', () => {
  it('retries after a 500 with the same webhook-id and a fresh signature', async () => {
    receiver.replyWith({ status: 500 }, { status: 200 });
    const jobId = await sendCallback(service, userCall({ callback_url: receiver.url() }));
    const status = await deliveryEnded(service, jobId);

    assert.equal(status.state, 'delivered');
    assert.deepEqual(statusCodes(status), [500, 200]);
    assert.equal(receiver.received.length, 2);
    for (const request of receiver.received) {
      assert.equal(request.headers['webhook-id'], jobId);
      assert.ok(signatureValid(request, 'secret'));
      assert.equal(request.body.toString('utf8'), ADDED);
    }
  });

  it('waits at least the Retry-After seconds of a 429 before the next attempt', async () => {
    receiver.replyWith({ status: 429, headers: { 'retry-after': '1' } }, { status: 200 });
    const jobId = await sendCallback(service, userCall({ callback_url: receiver.url() }));
    const status = await deliveryEnded(service, jobId);

    assert.deepEqual(statusCodes(status), [429, 200]);
    const [first, second] = receiver.received;
    assert.ok(first && second);
    assert.ok(second.receivedAtMs - first.receivedAtMs >= 1_000);
    assert.ok(
      Number(second.headers['webhook-timestamp']) >
        Number(first.headers['webhook-timestamp']),
    );
  });

  it('retries an attempt that got no answer within WEBHOOK_TIMEOUT_MS', async () => {
    receiver.replyWith({ status: 200, delayMs: 2_000 }, { status: 200 });
    const jobId = await sendCallback(service, userCall({ callback_url: receiver.url() }));
    const status = await deliveryEnded(service, jobId);

    assert.equal(status.state, 'delivered');
    assert.deepEqual(
      status.attempts.map((attempt) => attempt.error ?? attempt.statusCode),
      ['timeout', 200],
    );
    assert.ok((status.attempts[0]?.durationMs ?? 0) >= 450);
    assert.equal(receiver.received.length, 2);
    assert.equal(receiver.received[1]?.headers['webhook-id'], jobId);
  });

  it('retries a refused connection and fails once the schedule is spent', async () => {
    const closed = await WebhookReceiver.start();
    const url = closed.url();
    await closed.close();

    const jobId = await sendCallback(service, userCall({ callback_url: url }));
    const status = await deliveryEnded(service, jobId);

    assert.equal(status.state, 'failed');
    assert.equal(status.reason, 'retries spent; the last attempt ended with network');
    assert.deepEqual(
      status.attempts.map((attempt) => attempt.error),
      ['network', 'network', 'network'],
    );
  });

  it('fails after three 503 answers: the first attempt and one per backoff step', async () => {
    receiver.replyWith(
      { status: 503 },
      { status: 503 },
      { status: 503 },
      { status: 200 },
    );
    const jobId = await sendCallback(service, userCall({ callback_url: receiver.url() }));
    const status = await deliveryEnded(service, jobId);

    assert.equal(status.state, 'failed');
    assert.equal(status.reason, 'retries spent; the last attempt ended with HTTP 503');
    assert.equal(receiver.received.length, 3);
  });

  it('retries a DNS failure, then connects to the judged address with the name as Host', async () => {
    const url = `http://hooks.test:${receiver.port}/hook`;
    const jobId = await sendCallback(service, userCall({ callback_url: url }));
    const status = await deliveryEnded(service, jobId);

    assert.equal(status.state, 'delivered');
    assert.deepEqual(
      status.attempts.map((attempt) => attempt.error ?? attempt.statusCode),
      ['dns', 204],
    );
    assert.equal(receiver.received.length, 1);
    assert.equal(receiver.received[0]?.headers.host, `hooks.test:${receiver.port}`);
  });
});

describe('final answers', () => {
  it('does not follow a 302 and ends the delivery failed', async () => {
    receiver.replyWith({ status: 302, headers: { location: receiver.url('/moved') } });
    const jobId = await sendCallback(service, userCall({ callback_url: receiver.url() }));
    const status = await deliveryEnded(service, jobId);

    assert.equal(status.state, 'failed');
    assert.equal(status.reason, 'the receiver answered HTTP 302');
    assert.deepEqual(
      receiver.received.map((request) => request.path),
      ['/hook'],
    );
  });

  it('stops at a 410 Gone without another attempt', async () => {
    receiver.replyWith({ status: 410 }, { status: 200 });
    const jobId = await sendCallback(service, userCall({ callback_url: receiver.url() }));
    const status = await deliveryEnded(service, jobId);

    assert.equal(status.state, 'failed');
    assert.equal(status.reason, 'the receiver answered HTTP 410');
    assert.deepEqual(statusCodes(status), [410]);
    assert.equal(receiver.received.length, 1);
  });

  it('stops at a 400 as at any 4xx but 429', async () => {
    receiver.replyWith({ status: 400 }, { status: 200 });
    const jobId = await sendCallback(service, userCall({ callback_url: receiver.url() }));
    const status = await deliveryEnded(service, jobId);

    assert.deepEqual(statusCodes(status), [400]);
    assert.equal(receiver.received.length, 1);
  });
});

describe('calls refused before their hash verified', () => {
  const refusedCalls: Array<{
    row: string;
    params: () => Record<string, string>;
    method: 'GET' | 'POST';
    answer: string;
  }> = [
    {
      row: 'row 1, no such user',
      params: () => ({ ...hooked(), u: 'nobody' }),
      method: 'POST',
      answer: pageXml('error', 'Access Denied'),
    },
    {
      row: 'row 2, API disabled in the scope',
      params: () => ({ ...hooked(), u: 'quiet_user' }),
      method: 'POST',
      answer: bareXml('API Requests are disabled'),
    },
    {
      row: 'row 3, GET disabled',
      params: () => hooked(),
      method: 'GET',
      answer: bareXml('GET Requests are disabled'),
    },
    {
      row: 'row 4, scope without a secret',
      params: () => ({ ...hooked(), u: 'blank_reseller' }),
      method: 'POST',
      answer: bareXml('API must have Secret Key'),
    },
    {
      row: 'row 5, incorrect hash',
      params: () => ({ ...hooked(), hash: '0'.repeat(40) }),
      method: 'POST',
      answer: bareXml('Incorrect hash'),
    },
  ];

  function hooked() {
    return userCall({ callback_url: receiver.url() });
  }

  for (const { row, params, method, answer } of refusedCalls) {
    it(`never calls out for a call refused at ${row}, whose result can still be polled`, async () => {
      const jobId = await sendCallback(service, params(), method);
      const status = await deliveryEnded(service, jobId);
      assert.deepEqual(status, { state: 'skipped', reason: null, attempts: [] });
      const polled = await callApi(service, {
        method: 'GET',
        path: `/api/jobs/${jobId}`,
      });
      assert.equal(polled.body, answer);

      // A signed call to the same receiver afterwards is the only one it ever gets.
      const signedJobId = await sendCallback(service, hooked());
      await deliveryEnded(service, signedJobId);
      assert.deepEqual(
        receiver.received.map((request) => request.headers['webhook-id']),
        [signedJobId],
      );
    });
  }
});

describe('job status JSON', () => {
  it('shows the delivery state and every attempt', async () => {
    receiver.replyWith({ status: 503 }, { status: 200 });
    const jobId = await sendCallback(service, userCall({ callback_url: receiver.url() }));
    await deliveryEnded(service, jobId);

    const response = await callApi(service, {
      method: 'GET',
      path: `/billing/api/jobs/${jobId}`,
      headers: { accept: 'application/json' },
    });
    const { webhook } = response.json();
    assert.equal(webhook.state, 'delivered');
    assert.equal(webhook.reason, null);
    assert.equal(webhook.attempts.length, 2);
    assert.deepEqual(
      webhook.attempts.map((attempt: Record<string, unknown>) => Object.keys(attempt)),
      [
        ['at', 'status_code', 'error', 'duration_ms'],
        ['at', 'status_code', 'error', 'duration_ms'],
      ],
    );
    assert.deepEqual(
      webhook.attempts.map((attempt: { status_code: number }) => attempt.status_code),
      [503, 200],
    );
    for (const attempt of webhook.attempts) {
      assert.ok(!Number.isNaN(Date.parse(attempt.at)));
      assert.equal(attempt.error, null);
      assert.equal(typeof attempt.duration_ms, 'number');
    }
  });

  it('shows webhook null for a call without callback_url and skipped for a refused one', async () => {
    const plain = await callApi(service, { query: { ...userCall(), async: '1' } });
    const plainId = /<job_id>([^<]+)</.exec(plain.body)?.[1];
    const refusedId = await sendCallback(service, {
      ...userCall({ callback_url: receiver.url() }),
      u: 'nobody',
    });
    await deliveryEnded(service, refusedId);

    const json = async (jobId: string | undefined) => {
      for (;;) {
        const response = await callApi(service, {
          method: 'GET',
          path: `/api/jobs/${jobId}`,
          headers: { accept: 'application/json' },
        });
        if (response.json().done) return response.json();
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    };
    assert.equal((await json(plainId)).webhook, null);
    assert.deepEqual((await json(refusedId)).webhook, {
      state: 'skipped',
      reason: null,
      attempts: [],
    });
  });
});

describe('logs', () => {
  it('never logs the callback URL, its query string, a signature or the secret', async () => {
    receiver.replyWith({ status: 500 }, { status: 200 });
    const url = receiver.url('/hook?token=q-9f3e7c1a');
    const jobId = await sendCallback(service, userCall({ callback_url: url }));
    await deliveryEnded(service, jobId);

    const logs = service.logs.text;
    assert.ok(logs.includes(jobId));
    assert.ok(!logs.includes('q-9f3e7c1a'));
    assert.ok(!logs.includes(`127.0.0.1:${receiver.port}`));
    for (const request of receiver.received) {
      const signature = String(request.headers['webhook-signature']).slice(3);
      assert.ok(!logs.includes(signature));
    }
    assert.ok(!/"secret"|rsecret|rotated/.test(logs));
  });
});
