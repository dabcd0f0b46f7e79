import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { startService } from '../src/service.ts';
import { createLogger } from '../src/log.ts';
import { callFingerprint, callerKey } from '../src/ingress/idempotency.ts';
import {
  bareXml,
  callApi,
  countRecords,
  deleteQueueKeys,
  pageXml,
  startTestService,
  userCall,
  type TestService,
} from './harness.ts';

/** Idempotency-Key (../shared/DESIGN.md section 3; issue 3). */

const ADDED = pageXml('success', 'Record successfully added');
const TAKEN = pageXml('error', 'Speed dial must be unique');

let service: TestService;

before(async () => {
  service = await startTestService();
});

after(async () => {
  await service.dispose();
});

function keyed(
  params: Record<string, string>,
  key: string,
  headers: Record<string, string> = {},
) {
  return callApi(service, {
    query: params,
    headers: { 'idempotency-key': key, ...headers },
  });
}

const jobIdOf = (body: string) => /<job_id>([^<]+)</.exec(body)?.[1];

describe('repeats with one key', () => {
  it('answers a sync repeat with the first success, not Speed dial must be unique', async () => {
    const params = userCall();
    const first = await keyed(params, 'k-sync-1');
    const repeat = await keyed(params, 'k-sync-1');

    assert.equal(first.body, ADDED);
    assert.equal(repeat.statusCode, 200);
    assert.equal(repeat.body, ADDED);
    assert.equal(repeat.headers['content-location'], first.headers['content-location']);
    const rows = await service
      .db('phonebook_records')
      .where({ speeddial: params.speeddial });
    assert.equal(rows.length, 1);
  });

  it('answers a repeat without the key like MOR: Speed dial must be unique', async () => {
    const params = userCall();
    await keyed(params, 'k-nokey-1');
    const repeat = await callApi(service, { query: params });
    assert.equal(repeat.body, TAKEN);
  });

  it('gives an async repeat the first call\u2019s job id', async () => {
    const params = userCall();
    const first = await keyed(params, 'k-async-1', { prefer: 'respond-async' });
    assert.equal(first.statusCode, 202);
    const repeat = await keyed(params, 'k-async-1', { prefer: 'respond-async' });
    const firstId = jobIdOf(first.body);
    assert.ok(firstId);
    // Still queued: 202 with the same Location; already done: 200 whose Content-Location names it.
    const location =
      repeat.statusCode === 202
        ? repeat.headers.location
        : repeat.headers['content-location'];
    assert.equal(location, `/billing/api/jobs/${firstId}`);
  });

  it('answers 422 with a clear error when the key comes back with other params', async () => {
    const params = userCall();
    await keyed(params, 'k-mismatch-1');
    const other = await keyed({ ...params, name: 'Other' }, 'k-mismatch-1');
    assert.equal(other.statusCode, 422);
    assert.equal(
      other.body,
      bareXml('Idempotency-Key was already used with other params'),
    );
  });

  it('scopes keys to the caller, so another caller may use the same key', async () => {
    const mine = userCall();
    await keyed(mine, 'k-shared-1');
    const theirs = { ...userCall({ user_id: '0' }), u: 'admin' };
    const response = await keyed(theirs, 'k-shared-1');
    assert.equal(response.body, ADDED);
  });

  it('counts a repeat with the username in other case and the hash in upper case as the same call', async () => {
    const params = userCall();
    const first = await keyed(params, 'k-case-1');
    const repeat = await keyed(
      { ...params, u: 'USERNAME', hash: (params.hash as string).toUpperCase() },
      'k-case-1',
    );
    assert.equal(repeat.statusCode, 200);
    assert.equal(repeat.body, ADDED);
    assert.equal(repeat.headers['content-location'], first.headers['content-location']);
  });

  it(
    'answers every one of 20 concurrent sync requests with one key, all with the one result',
    { timeout: 30_000 },
    async () => {
      const params = userCall();
      const answers = await Promise.all(
        Array.from({ length: 20 }, () => keyed(params, 'k-burst-1')),
      );
      assert.deepEqual(
        new Set(answers.map((answer) => answer.statusCode)),
        new Set([200]),
      );
      assert.deepEqual(new Set(answers.map((answer) => answer.body)), new Set([ADDED]));
      assert.equal(
        (await service.db('phonebook_records').where({ speeddial: params.speeddial }))
          .length,
        1,
      );
    },
  );

  it('refuses a key that is not 1 to 255 visible ASCII characters', async () => {
    for (const key of ['has space', 'x'.repeat(256), 'caf\u00e9']) {
      const response = await keyed(userCall(), key);
      assert.equal(response.statusCode, 400);
      assert.equal(
        response.body,
        bareXml('Idempotency-Key must be 1 to 255 visible ASCII characters'),
      );
    }
  });

  it('keeps keys in Postgres, so a repeat after Redis lost everything still gets the first result', async () => {
    const params = userCall();
    assert.equal((await keyed(params, 'k-durable-1')).body, ADDED);
    await deleteQueueKeys(service.config.QUEUE_PREFIX);

    const repeat = await keyed(params, 'k-durable-1');
    assert.equal(repeat.body, ADDED);
    assert.equal(
      (await service.db('phonebook_records').where({ speeddial: params.speeddial }))
        .length,
      1,
    );
  });

  it('treats a key past its retention as new', async () => {
    const params = userCall();
    await keyed(params, 'k-expired-1');
    await service
      .db('idempotency_keys')
      .where({ key: 'k-expired-1' })
      .update({ created_at: service.db.raw("now() - interval '25 hours'") });

    const repeat = await keyed(params, 'k-expired-1');
    assert.equal(repeat.body, TAKEN);
  });

  it('queues the first call\u2019s job when its ingress stopped before queueing it', async () => {
    const params = userCall();
    const jobId = randomUUID();
    const { hash: _hash, ...rest } = params;
    await service.db('idempotency_keys').insert({
      caller: callerKey({ u: 'username' }),
      key: 'k-orphan-1',
      fingerprint: callFingerprint('POST', {
        u: rest.u,
        user_id: rest.user_id,
        number: rest.number,
        name: rest.name,
        speeddial: rest.speeddial,
        hash: params.hash,
      }),
      job_id: jobId,
    });

    const repeat = await keyed(params, 'k-orphan-1');
    assert.equal(repeat.body, ADDED);
    const stored = await service.db('job_results').where({ job_id: jobId }).first();
    assert.equal(stored?.result_xml, ADDED);
  });
});

describe('repeats while the first call is still queued', () => {
  it('gives every repeat the same job, then the same XML once a worker ran it', async () => {
    const ingress = await startTestService({}, { ingress: true, worker: false });
    try {
      const params = userCall();
      const send = () =>
        callApi(ingress, {
          query: params,
          headers: { 'idempotency-key': 'k-queued-1', prefer: 'respond-async' },
        });
      const first = await send();
      const repeats = await Promise.all([send(), send(), send()]);
      const jobId = jobIdOf(first.body);
      for (const repeat of repeats) {
        assert.equal(repeat.statusCode, 202);
        assert.equal(jobIdOf(repeat.body), jobId);
      }

      const worker = await startService(ingress.config, createLogger('silent'), {
        ingress: false,
        worker: true,
      });
      try {
        let status;
        for (let i = 0; i < 100; i++) {
          status = await callApi(ingress, {
            method: 'GET',
            path: `/billing/api/jobs/${jobId}`,
          });
          if (status.statusCode === 200) break;
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
        assert.equal(status?.body, ADDED);
        assert.equal((await send()).statusCode, 200);
        assert.equal(await countRecords(ingress), 1);
      } finally {
        await worker.stop();
      }
    } finally {
      await ingress.dispose();
    }
  });
});

describe('retention', () => {
  it('deletes keys and results past their retention and keeps younger ones', async () => {
    const { deleteExpired } = await import('../workers/createRecordWorker.ts');
    const old = userCall();
    const young = userCall();
    await keyed(old, 'k-retention-old');
    await keyed(young, 'k-retention-young');
    await service
      .db('idempotency_keys')
      .where({ key: 'k-retention-old' })
      .update({ created_at: service.db.raw("now() - interval '25 hours'") });
    await service
      .db('job_results')
      .where('finished_at', '<', service.db.raw("now() - interval '1 second'"))
      .update({ finished_at: service.db.raw("now() - interval '169 hours'") });

    await deleteExpired({
      db: service.db,
      config: service.config,
      log: createLogger('silent'),
    });

    const keys = await service
      .db('idempotency_keys')
      .whereIn('key', ['k-retention-old', 'k-retention-young'])
      .pluck('key');
    assert.deepEqual(keys, ['k-retention-young']);
    const expired = await service
      .db('job_results')
      .where('finished_at', '<', service.db.raw("now() - interval '168 hours'"));
    assert.equal(expired.length, 0);
  });
});

describe('concurrent repeats while no worker runs', () => {
  it(
    'answers each of 10 concurrent sync repeats with 202 once the wait runs out',
    { timeout: 30_000 },
    async () => {
      const ingress = await startTestService(
        { SYNC_WAIT_MS: '300' },
        { ingress: true, worker: false },
      );
      try {
        const params = userCall();
        const answers = await Promise.all(
          Array.from({ length: 10 }, () =>
            callApi(ingress, {
              query: params,
              headers: { 'idempotency-key': 'k-burst-2' },
            }),
          ),
        );
        assert.deepEqual(
          new Set(answers.map((answer) => answer.statusCode)),
          new Set([202]),
        );
        assert.equal(new Set(answers.map((answer) => answer.headers.location)).size, 1);
      } finally {
        await ingress.dispose();
      }
    },
  );
});
