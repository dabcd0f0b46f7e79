import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { AddressInfo } from 'node:net';
import { createLogger } from '../src/log.ts';
import { startService } from '../src/service.ts';
import {
  bareXml,
  callApi,
  pageXml,
  startTestService,
  userCall,
  type TestService,
} from './harness.ts';

/** Rate limits and slow clients (issue 5). */

const ADDED = pageXml('success', 'Record successfully added');
const LIMITED = bareXml('Too many requests, try again later');

describe('rate limits', () => {
  let service: TestService;
  before(async () => {
    service = await startTestService({
      RATE_LIMIT_WINDOW_MS: '60000',
      RATE_LIMIT_PER_CALLER: '3',
      RATE_LIMIT_PER_ADDRESS: '5',
    });
  });
  after(async () => {
    await service.dispose();
  });

  it('answers 429 with Retry-After once a caller passes its limit', async () => {
    for (let i = 0; i < 3; i++)
      assert.equal((await callApi(service, { query: userCall() })).body, ADDED);

    const limited = await callApi(service, { query: userCall() });
    assert.equal(limited.statusCode, 429);
    assert.equal(limited.body, LIMITED);
    const retryAfter = Number(limited.headers['retry-after']);
    assert.ok(retryAfter >= 1 && retryAfter <= 60, `Retry-After ${retryAfter}`);
  });

  it('counts callers apart, and usernames case-insensitively', async () => {
    const other = await callApi(service, {
      query: { ...userCall({ user_id: '0' }), u: 'admin' },
    });
    assert.equal(other.body, ADDED);
    const sameCaller = await callApi(service, {
      query: { ...userCall(), u: 'USERNAME' },
    });
    assert.equal(sameCaller.statusCode, 429);
  });

  it('limits one client address across callers', async () => {
    const response = await callApi(service, {
      query: { ...userCall({ user_id: '3' }), u: 'reseller' },
    });
    assert.equal(response.statusCode, 429);
    assert.equal(response.body, LIMITED);
  });

  it('shares the counters between ingress processes through Redis', async () => {
    const second = await startService(service.config, createLogger('silent'), {
      ingress: true,
      worker: false,
    });
    try {
      const response = await callApi(second, { query: userCall() });
      assert.equal(response.statusCode, 429);
    } finally {
      await second.stop();
    }
  });

  it('stores nothing for a refused request', async () => {
    const params = userCall();
    await callApi(service, { query: params });
    const rows = await service
      .db('phonebook_records')
      .where({ speeddial: params.speeddial });
    assert.equal(rows.length, 0);
  });
});

describe('rate limits switched off', () => {
  it('lets every request through when both limits are 0', async () => {
    const service = await startTestService({
      RATE_LIMIT_PER_CALLER: '0',
      RATE_LIMIT_PER_ADDRESS: '0',
    });
    try {
      const answers = await Promise.all(
        Array.from({ length: 20 }, () => callApi(service, { query: userCall() })),
      );
      assert.deepEqual(
        new Set(answers.map((answer) => answer.statusCode)),
        new Set([200]),
      );
    } finally {
      await service.dispose();
    }
  });
});

describe('slow clients', () => {
  it(
    'closes a connection whose headers trickle in past the header timeout',
    { timeout: 15_000 },
    async () => {
      const service = await startTestService({
        HEADERS_TIMEOUT_MS: '1000',
        REQUEST_TIMEOUT_MS: '2000',
      });
      try {
        await service.app!.listen({ port: 0, host: '127.0.0.1' });
        const { port } = service.app!.server.address() as AddressInfo;
        const socket = connect(port, '127.0.0.1');
        socket.write('POST /billing/api/phonebook_record_create HTTP/1.1\r\nHost: x\r\n');
        const trickle = setInterval(() => socket.write('X-Slow: 1\r\n'), 200);

        const answer = await new Promise<string>((resolve) => {
          let received = '';
          socket.on('data', (chunk) => (received += chunk.toString()));
          socket.on('close', () => resolve(received));
        });
        clearInterval(trickle);
        assert.match(answer, /^HTTP\/1\.1 408 /);
      } finally {
        await service.dispose();
      }
    },
  );
});

describe('oversized request lines', () => {
  it('answers 414 with an XML error for a URL past 16 KiB', async () => {
    const service = await startTestService();
    try {
      const response = await callApi(service, {
        query: { u: 'username', name: 'n'.repeat(17_000) },
      });
      assert.equal(response.statusCode, 414);
      assert.equal(response.body, bareXml('Request URL is too long'));
    } finally {
      await service.dispose();
    }
  });
});
