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

describe('answers that would not come from the routes', () => {
  let service: TestService;
  let port: number;
  before(async () => {
    service = await startTestService();
    await service.app!.listen({ port: 0, host: '127.0.0.1' });
    port = (service.app!.server.address() as AddressInfo).port;
  });
  after(async () => {
    await service.dispose();
  });

  /** Sends raw bytes and returns everything the server wrote before closing. */
  function raw(request: string): Promise<string> {
    return new Promise((resolve, reject) => {
      const socket = connect(port, '127.0.0.1');
      let received = '';
      socket.on('data', (chunk) => (received += chunk.toString('latin1')));
      socket.on('close', () => resolve(received));
      socket.on('error', reject);
      socket.end(request);
    });
  }

  it('answers 404 with the XML error for a job id far longer than a UUID', async () => {
    const response = await callApi(service, {
      method: 'GET',
      path: `/billing/api/jobs/${'a'.repeat(500)}`,
    });
    assert.equal(response.statusCode, 404);
    assert.equal(response.body, bareXml('Job was not found'));
  });

  it('answers 431 in XML when the request line and headers pass Node\u2019s limit', async () => {
    const answer = await raw(
      `GET /billing/api/jobs/${'a'.repeat(20_000)} HTTP/1.1\r\nHost: x\r\n\r\n`,
    );
    assert.match(answer, /^HTTP\/1\.1 431 /);
    assert.ok(answer.endsWith(bareXml('Request headers are too large')), answer);
  });

  it('answers 400 in XML for a request line that is not HTTP', async () => {
    const answer = await raw('HELLO WORLD\r\n\r\n');
    assert.match(answer, /^HTTP\/1\.1 400 /);
    assert.match(answer, /Content-Type: text\/xml; charset=utf-8/);
    assert.ok(answer.endsWith(bareXml('Request could not be parsed')), answer);
  });
});

describe('job status while Redis is unreachable', () => {
  it(
    'answers a stored result from Postgres and 503 for anything else, at once',
    { timeout: 20_000 },
    async () => {
      const service = await startTestService(
        { REDIS_URL: 'redis://127.0.0.1:1' },
        { ingress: true, worker: false },
      );
      try {
        const stored = '7c9e6679-7425-40de-944b-e07fc1f90ae7';
        await service.db('job_results').insert({
          job_id: stored,
          success: true,
          result_xml: pageXml('success', 'Record successfully added'),
          accepted_at: new Date(),
        });

        const started = performance.now();
        const done = await callApi(service, {
          method: 'GET',
          path: `/billing/api/jobs/${stored}`,
        });
        const unknown = await callApi(service, {
          method: 'GET',
          path: '/billing/api/jobs/00000000-0000-4000-8000-000000000000',
        });
        const elapsedMs = performance.now() - started;

        assert.equal(done.statusCode, 200);
        assert.equal(done.body, pageXml('success', 'Record successfully added'));
        assert.equal(unknown.statusCode, 503);
        assert.equal(
          unknown.body,
          bareXml('Service temporarily unavailable, try again later'),
        );
        assert.ok(elapsedMs < 1_000, `answered in ${Math.round(elapsedMs)} ms`);
      } finally {
        await service.dispose();
      }
    },
  );
});
