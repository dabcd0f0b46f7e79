import assert from 'node:assert/strict';
import { after, afterEach, before, beforeEach, describe, it } from 'node:test';
import { startTestService, userCall, type TestService } from './harness.ts';
import {
  deliveryEnded,
  fixedLookup,
  sendCallback,
  WebhookReceiver,
} from './webhookReceiver.ts';

/**
 * Refused callbacks end to end, under the default policy (no WEBHOOK_ALLOWLIST). Every
 * callback here names the receiver on 127.0.0.1 in some spelling, so that should the
 * policy fail, the only traffic is to this machine's receiver, which counts every
 * connection it gets.
 */

let service: TestService;
let receiver: WebhookReceiver;

before(async () => {
  service = await startTestService(
    { WEBHOOK_BACKOFF_MS: '50' },
    { ingress: true, worker: true },
    {
      lookupHost: fixedLookup({
        'loopback.test': () => [{ address: '127.0.0.1', family: 4 }],
      }),
    },
  );
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

describe('a callback to a refused address', () => {
  const spellings: Array<[string, (port: number) => string]> = [
    ['dotted', (port) => `http://127.0.0.1:${port}/hook`],
    ['decimal', (port) => `http://2130706433:${port}/hook`],
    ['hex', (port) => `http://0x7f000001:${port}/hook`],
    ['octal', (port) => `http://0177.0.0.1:${port}/hook`],
    ['short', (port) => `http://127.1:${port}/hook`],
    ['IPv4-mapped IPv6', (port) => `http://[::ffff:127.0.0.1]:${port}/hook`],
  ];

  for (const [spelling, url] of spellings) {
    it(`ends refused without a connection when 127.0.0.1 is spelt ${spelling}`, async () => {
      const jobId = await sendCallback(
        service,
        userCall({ callback_url: url(receiver.port) }),
      );
      const status = await deliveryEnded(service, jobId);

      assert.deepEqual(status, {
        state: 'refused',
        reason: 'callback_url address is not allowed (loopback)',
        attempts: [],
      });
      assert.equal(receiver.connections, 0);
    });
  }

  it('ends refused without a connection when a name resolves to loopback', async () => {
    const url = `http://loopback.test:${receiver.port}/hook`;
    const jobId = await sendCallback(service, userCall({ callback_url: url }));
    const status = await deliveryEnded(service, jobId);

    assert.equal(status.state, 'refused');
    assert.equal(
      status.reason,
      'callback_url host resolves to no allowed address (loopback)',
    );
    assert.equal(receiver.connections, 0);
  });

  it('shows refused and the reason in the JSON status', async () => {
    const jobId = await sendCallback(service, userCall({ callback_url: receiver.url() }));
    await deliveryEnded(service, jobId);

    const response = await service.app!.inject({
      method: 'GET',
      url: `/api/jobs/${jobId}`,
      headers: { accept: 'application/json' },
    });
    assert.deepEqual(response.json().webhook, {
      state: 'refused',
      reason: 'callback_url address is not allowed (loopback)',
      attempts: [],
    });
  });
});
