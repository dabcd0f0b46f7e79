import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import type { Knex } from 'knex';
import { processCall } from '../src/processCall.ts';
import type { CallJobData } from '../src/types.ts';
import {
  bareXml,
  CREATE_PATH,
  jobIdOf,
  pageXml,
  pendingXml,
  query,
  queueContents,
  removeTestData,
  sign,
  startSibling,
  startTestService,
  testConfig,
  waitFor,
  type LogCapture,
  type TestService,
} from './harness.ts';
import { sparePort } from './sparePort.ts';

/**
 * Processing guarantees (../shared/DESIGN.md sections 3 and 4): a job's effect happens
 * once however often it runs, transient faults are retried, MOR errors are answers,
 * and the ingress answers sync, async and status requests as the contract says.
 */

/** Field values of every call in this file, looked for in logs and in Redis at the end. */
const NAME = 'Grace Hopper';
const NUMBER = '3125550147';
const PASSWORD = 'pa55-never-logged';
const SECRETS = ['secret', 'rsecret', 'not-the-secret'];
const sentHashes: string[] = [];
const logCaptures: LogCapture[] = [];
/** What the service process of the Redis test wrote to stderr: its log lines. */
let childStderr = '';

const ADDED = pageXml('success', 'Record successfully added');
const INCORRECT_HASH = bareXml('Incorrect hash');
const JOB_NOT_FOUND = bareXml('Job was not found');
const QUEUE_UNAVAILABLE = bareXml('Service temporarily unavailable, try again later');
const XML_TYPE = 'text/xml; charset=utf-8';
const JOB_LOCATION = /^\/billing\/api\/jobs\/[0-9a-f-]{36}$/;
const RETENTION_HOURS = 24;

interface CallOptions {
  path?: string;
  secret?: string;
  /** Params signed with the fields, such as `callback_url`. */
  signed?: Record<string, string>;
  /** Params sent unsigned, such as `async`. */
  unsigned?: Record<string, string>;
}

/** User 2 creating a record for itself, signed with the global key unless told. */
function callParams(speeddial: string, options: CallOptions = {}) {
  const fields = {
    user_id: '2',
    number: NUMBER,
    name: NAME,
    speeddial,
    ...options.signed,
  };
  const signed = sign(fields, options.secret ?? 'secret');
  sentHashes.push(signed.hash as string);
  return { u: 'username', ...signed, ...options.unsigned };
}

/** The URL of a call, with a password as MOR clients send one: it must go nowhere. */
function callUrl(speeddial: string, options: CallOptions = {}): string {
  const params = { ...callParams(speeddial, options), p: PASSWORD };
  return `${options.path ?? CREATE_PATH}?${query(params)}`;
}

async function start(
  env: Record<string, string> = {},
  parts = { ingress: true, worker: true },
): Promise<TestService> {
  const service = await startTestService(env, parts);
  logCaptures.push(service.logs);
  return service;
}

async function countRows(service: TestService, table: string, where: object) {
  const [row] = await service.db(table).where(where).count<{ n: string }[]>('* as n');
  return Number(row?.n);
}

/** Pids of backends waiting for a lock on the records table. */
async function waitingOnRecords(db: Knex): Promise<number[]> {
  const rows = await db('pg_locks')
    .select('pid')
    .whereRaw(`relation = 'phonebook_records'::regclass`)
    .andWhere('granted', false);
  return rows.map((row: { pid: number }) => row.pid);
}

/**
 * Runs `steps` while a lock blocks every insert into the records table; `release`
 * lets the inserts go on. The lock goes at the end whatever happens.
 */
async function whileInsertsBlocked<T>(
  db: Knex,
  steps: (release: () => Promise<void>) => Promise<T>,
): Promise<T> {
  const lock = await db.transaction();
  await lock.raw('lock table phonebook_records in share mode');
  try {
    return await steps(async () => {
      await lock.commit();
    });
  } finally {
    if (!lock.isCompleted()) await lock.rollback();
  }
}

/** What the worker reported of each job's attempts: failed ones, and the completing one. */
class AttemptLog {
  readonly failedReasons = new Map<string, string[]>();
  readonly attemptsWhenCompleted = new Map<string, number>();

  constructor(service: TestService) {
    const { worker } = service.worker!;
    worker.on('failed', (job, error) => {
      if (job?.id === undefined) return;
      this.failedReasons.set(job.id, [
        ...(this.failedReasons.get(job.id) ?? []),
        error.message,
      ]);
    });
    worker.on('completed', (job) => {
      if (job.id !== undefined) this.attemptsWhenCompleted.set(job.id, job.attemptsMade);
    });
  }

  completion(jobId: string): Promise<number> {
    return waitFor(`job ${jobId} to complete`, () =>
      this.attemptsWhenCompleted.get(jobId),
    );
  }
}

describe('one job processed more than once', () => {
  let service: TestService;
  before(async () => {
    service = await start({}, { ingress: false, worker: false });
  });
  after(async () => {
    await service.dispose();
  });

  const jobData = (speeddial: string): CallJobData => ({
    method: 'POST',
    params: callParams(speeddial),
    acceptedAtMs: Date.now(),
  });

  it('returns the stored success XML when a job is processed a second time', async () => {
    const jobId = randomUUID();
    const data = jobData('61');

    const first = await processCall(service.db, jobId, data, RETENTION_HOURS);
    const second = await processCall(service.db, jobId, data, RETENTION_HOURS);

    const noCallback = { success: true, deliveryPending: false };
    assert.deepEqual(first, { resultXml: ADDED, ...noCallback, firstAttempt: true });
    assert.deepEqual(second, { resultXml: ADDED, ...noCallback, firstAttempt: false });
    assert.equal(await countRows(service, 'phonebook_records', { speeddial: '61' }), 1);
    assert.equal(await countRows(service, 'job_results', { job_id: jobId }), 1);
  });

  it('stores one record and one result when two attempts of a job run at once', async () => {
    const jobId = randomUUID();
    const data = jobData('62');

    // Both attempts pass their check for a stored result, then wait at the insert.
    const results = await whileInsertsBlocked(service.db, async (release) => {
      const attempts = [1, 2].map(() =>
        processCall(service.db, jobId, data, RETENTION_HOURS),
      );
      await waitFor('both attempts to wait at the insert', async () =>
        (await waitingOnRecords(service.db)).length === 2 ? true : undefined,
      );
      await release();
      return Promise.all(attempts);
    });

    assert.deepEqual(
      results.map(({ resultXml, success }) => ({ resultXml, success })),
      [
        { resultXml: ADDED, success: true },
        { resultXml: ADDED, success: true },
      ],
    );
    assert.deepEqual(results.map((result) => result.firstAttempt).sort(), [false, true]);
    assert.equal(await countRows(service, 'phonebook_records', { speeddial: '62' }), 1);
    assert.equal(await countRows(service, 'job_results', { job_id: jobId }), 1);
  });
});

describe('jobs run by the worker', () => {
  let service: TestService;
  let attempts: AttemptLog;
  before(async () => {
    service = await start();
    attempts = new AttemptLog(service);
  });
  after(async () => {
    await service.dispose();
  });

  async function sendAsync(url: string, headers: Record<string, string> = {}) {
    return service.app!.inject({ method: 'POST', url, headers });
  }

  it('retries a job whose first attempt lost its database connection, then completes it', async () => {
    const jobId = await whileInsertsBlocked(service.db, async (release) => {
      const accepted = await sendAsync(callUrl('71'), { prefer: 'respond-async' });
      const pid = await waitFor('the attempt to wait at the insert', async () => {
        const pids = await waitingOnRecords(service.db);
        return pids.length === 1 ? pids[0] : undefined;
      });

      await service.db.raw('select pg_terminate_backend(?)', [pid]);
      await release();
      return jobIdOf(accepted.headers.location);
    });

    assert.equal(await attempts.completion(jobId), 2);
    assert.deepEqual(attempts.failedReasons.get(jobId), ['database unavailable']);
    const status = await service.app!.inject(`/billing/api/jobs/${jobId}`);
    assert.equal(status.statusCode, 200);
    assert.equal(status.body, ADDED);
    assert.equal(await countRows(service, 'phonebook_records', { speeddial: '71' }), 1);
  });

  it('completes a job answered with a MOR error in its first attempt', async () => {
    const url = callUrl('72', { secret: 'not-the-secret' });
    const accepted = await sendAsync(url, { prefer: 'respond-async' });
    const jobId = jobIdOf(accepted.headers.location);

    assert.equal(await attempts.completion(jobId), 1);
    assert.equal(attempts.failedReasons.get(jobId), undefined);
    const status = await service.app!.inject(`/billing/api/jobs/${jobId}`);
    assert.equal(status.statusCode, 200);
    assert.equal(status.body, INCORRECT_HASH);
  });

  it('completes a job answered Speed dial must be unique in its first attempt', async () => {
    const first = await sendAsync(callUrl('79'));
    assert.equal(first.body, ADDED);

    const accepted = await sendAsync(callUrl('79'), { prefer: 'respond-async' });
    const jobId = jobIdOf(accepted.headers.location);

    assert.equal(await attempts.completion(jobId), 1);
    assert.equal(attempts.failedReasons.get(jobId), undefined);
    const status = await service.app!.inject(`/billing/api/jobs/${jobId}`);
    assert.equal(status.body, pageXml('error', 'Speed dial must be unique'));
  });

  it(
    'checks the eviction policy and persistence of Redis at start when CONFIG GET is allowed',
    {},
    async () => {
      const redis = new Redis(service.config.REDIS_URL);
      try {
        const [, policy] = (await redis.config('GET', 'maxmemory-policy')) as string[];
        assert.ok(policy, 'this Redis answers CONFIG GET');
      } finally {
        redis.disconnect();
      }

      assert.deepEqual(
        service.warnings.filter((warning) =>
          warning.includes('CONFIG GET is not allowed'),
        ),
        [],
      );
    },
  );

  it('answers 202 at once with the waiting job when the request prefers respond-async', async () => {
    const response = await sendAsync(callUrl('73'), { prefer: 'respond-async' });
    const jobId = jobIdOf(response.headers.location);

    assert.equal(response.statusCode, 202);
    assert.match(String(response.headers.location), JOB_LOCATION);
    assert.equal(response.headers['retry-after'], '1');
    assert.equal(response.headers['content-type'], XML_TYPE);
    assert.equal(response.body, pendingXml(jobId, 'waiting'));
    await attempts.completion(jobId);
  });

  it('answers 202 at once when respond-async is one of several Prefer tokens', async () => {
    const prefer = 'return=minimal, respond-async; ignored=1';
    const response = await sendAsync(callUrl('74'), { prefer });
    const jobId = jobIdOf(response.headers.location);

    assert.equal(response.statusCode, 202);
    assert.equal(response.body, pendingXml(jobId, 'waiting'));
    await attempts.completion(jobId);
  });

  it('answers 202 at once when the call carries async=1', async () => {
    const response = await sendAsync(callUrl('75', { unsigned: { async: '1' } }));
    const jobId = jobIdOf(response.headers.location);

    assert.equal(response.statusCode, 202);
    assert.equal(response.body, pendingXml(jobId, 'waiting'));
    await attempts.completion(jobId);
  });

  it('answers 202 at once when the call carries a signed callback_url', async () => {
    // Loopback, so nothing could ever be aimed elsewhere; this service has no
    // webhook worker yet, so nothing is posted to it.
    const signed = { callback_url: 'http://127.0.0.1:9/phonebook-results' };
    const response = await sendAsync(callUrl('76', { signed }));
    const jobId = jobIdOf(response.headers.location);

    assert.equal(response.statusCode, 202);
    assert.equal(response.body, pendingXml(jobId, 'waiting'));
    await attempts.completion(jobId);
    const status = await service.app!.inject(`/billing/api/jobs/${jobId}`);
    assert.equal(status.body, ADDED);
  });

  it('points the Location of a call to /api/phonebook_record_create at /api/jobs/<id>', async () => {
    const url = callUrl('77', { path: '/api/phonebook_record_create' });
    const response = await sendAsync(url, { prefer: 'respond-async' });
    const jobId = jobIdOf(response.headers.location);

    assert.equal(response.headers.location, `/api/jobs/${jobId}`);
    await attempts.completion(jobId);
  });

  it('answers the stored XML of a completed job at /api/jobs/<id> as at /billing/api/jobs/<id>', async () => {
    const accepted = await sendAsync(callUrl('78'), { prefer: 'respond-async' });
    const jobId = jobIdOf(accepted.headers.location);
    await attempts.completion(jobId);

    for (const path of [`/billing/api/jobs/${jobId}`, `/api/jobs/${jobId}`]) {
      const status = await service.app!.inject(path);
      assert.equal(status.statusCode, 200, path);
      assert.equal(status.headers['content-type'], XML_TYPE, path);
      assert.equal(status.body, ADDED, path);
    }
  });

  it('keeps no name, number, password or hash of a call in Redis once its jobs completed', async () => {
    const contents = await queueContents(service.config.QUEUE_PREFIX);
    const text = [...contents].join('\n');

    assert.ok(contents.size > 0, 'the queue has keys');
    for (const probe of [NAME, NUMBER, PASSWORD, ...sentHashes]) {
      assert.equal(text.includes(probe), false, `Redis holds ${probe}`);
    }
  });

  it('answers 404 with the XML error for an unknown job id', async () => {
    const response = await service.app!.inject(`/billing/api/jobs/${randomUUID()}`);

    assert.equal(response.statusCode, 404);
    assert.equal(response.headers['content-type'], XML_TYPE);
    assert.equal(response.body, JOB_NOT_FOUND);
  });

  it('answers 404 with the XML error for a job id that is not a UUID', async () => {
    const response = await service.app!.inject('/api/jobs/not-a-job-id');

    assert.equal(response.statusCode, 404);
    assert.equal(response.body, JOB_NOT_FOUND);
  });

  it('answers 404 with the JSON error for unknown and non-UUID job ids when JSON is asked', async () => {
    for (const id of [randomUUID(), 'not-a-job-id']) {
      const response = await service.app!.inject({
        url: `/billing/api/jobs/${id}`,
        headers: { accept: 'application/json' },
      });

      assert.equal(response.statusCode, 404, id);
      assert.equal(response.headers['content-type'], 'application/json; charset=utf-8');
      assert.equal(response.body, '{"error":"Job was not found"}', id);
    }
  });
});

describe('a sync request whose wait runs out', () => {
  let ingress: TestService;
  let worker: TestService | undefined;
  let jobId: string;
  let location: string;
  before(async () => {
    // No worker at first: the job waits in the queue until a test starts one.
    ingress = await start({ SYNC_WAIT_MS: '300' }, { ingress: true, worker: false });
  });
  after(async () => {
    await worker?.dispose();
    await ingress.dispose();
  });

  it('answers 202 with the Location of its job and Retry-After', async () => {
    const response = await ingress.app!.inject({ method: 'POST', url: callUrl('81') });
    location = String(response.headers.location);
    jobId = jobIdOf(location);

    assert.equal(response.statusCode, 202);
    assert.match(location, JOB_LOCATION);
    assert.equal(response.headers['retry-after'], '1');
    assert.equal(response.headers['content-type'], XML_TYPE);
  });

  it(
    'answers a sync wait that ran out with the pending XML of the job in its actual state',
    {},
    async () => {
      const response = await ingress.app!.inject({ method: 'POST', url: callUrl('82') });
      const waitingJobId = jobIdOf(response.headers.location);

      assert.equal(response.statusCode, 202);
      assert.equal(response.body, pendingXml(waitingJobId, 'waiting'));
    },
  );

  it('answers 202 with the pending XML when its Location is polled before a worker runs', async () => {
    const response = await ingress.app!.inject(location);

    assert.equal(response.statusCode, 202);
    assert.equal(response.headers.location, location);
    assert.equal(response.headers['retry-after'], '1');
    assert.equal(response.body, pendingXml(jobId, 'waiting'));
  });

  it('answers the JSON status of the pending job when JSON is asked', async () => {
    const job = await ingress.queue.getJob(jobId);
    const response = await ingress.app!.inject({
      url: location,
      headers: { accept: 'application/json' },
    });

    assert.equal(response.statusCode, 200);
    assert.deepEqual(response.json(), {
      id: jobId,
      state: 'waiting',
      done: false,
      result_xml: null,
      created_at: new Date(job!.timestamp).toISOString(),
      finished_at: null,
      webhook: null,
    });
  });

  it('answers 200 with the stored XML once a worker started later has run the job', async () => {
    worker = await startSibling(ingress, { ingress: false, worker: true });
    logCaptures.push(worker.logs);

    const response = await waitFor('the job to complete', async () => {
      const polled = await ingress.app!.inject(location);
      return polled.statusCode === 202 ? undefined : polled;
    });
    assert.equal(response.statusCode, 200);
    assert.equal(response.headers['content-type'], XML_TYPE);
    assert.equal(response.body, ADDED);
  });

  it('answers the JSON status of the completed job when JSON is asked', async () => {
    const stored = await ingress.db('job_results').where({ job_id: jobId }).first();
    const response = await ingress.app!.inject({
      url: location,
      headers: { accept: 'application/json' },
    });

    assert.equal(response.statusCode, 200);
    assert.deepEqual(response.json(), {
      id: jobId,
      state: 'completed',
      done: true,
      result_xml: ADDED,
      created_at: stored.accepted_at.toISOString(),
      finished_at: stored.finished_at.toISOString(),
      webhook: null,
    });
  });

  it('leaves no key of the completed job in Redis', async () => {
    const keys = [...(await queueContents(ingress.config.QUEUE_PREFIX)).keys()];

    assert.equal(await ingress.queue.getJob(jobId), undefined);
    assert.deepEqual(
      keys.filter((key) => key.includes(jobId)),
      [],
    );
  });
});

describe('Redis unreachable at the ingress', () => {
  it('answers 503 with the XML error within 1 s when the ingress has lost its Redis connection', async () => {
    const service = await start({}, { ingress: true, worker: false });
    try {
      (await service.queue.client).disconnect();

      const started = performance.now();
      const response = await service.app!.inject({ method: 'POST', url: callUrl('91') });
      const elapsedMs = performance.now() - started;

      assert.equal(response.statusCode, 503);
      assert.equal(response.headers['content-type'], XML_TYPE);
      assert.equal(response.body, QUEUE_UNAVAILABLE);
      assert.ok(elapsedMs < 1_000, `answered after ${Math.round(elapsedMs)} ms`);
      assert.equal((await service.app!.inject('/healthz')).statusCode, 200);
    } finally {
      await service.dispose();
    }
  });

  it(
    'starts, answers 503 with the XML error within 1 s and keeps running when Redis is unreachable from the start',
    {},
    async () => {
      const port = await sparePort();
      const config = testConfig({ REDIS_URL: `redis://127.0.0.1:${port}` });
      const env = Object.fromEntries(
        Object.entries(config).map(([name, value]) => [name, String(value)]),
      );
      const child = spawn(
        process.execPath,
        ['--import', 'tsx', 'test/serviceProcess.ts'],
        {
          env: { ...process.env, ...env },
          stdio: ['pipe', 'pipe', 'pipe'],
        },
      );
      const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
      let stdout = '';
      child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
      child.stderr.on('data', (chunk: Buffer) => (childStderr += chunk.toString('utf8')));

      try {
        const listening = await waitFor('the service process to listen', () => {
          const match = /listening (\d+)\n/.exec(stdout);
          return match?.[1];
        });

        const started = performance.now();
        const response = await fetch(`http://127.0.0.1:${listening}${callUrl('92')}`, {
          method: 'POST',
        });
        const elapsedMs = performance.now() - started;

        assert.equal(response.status, 503);
        assert.equal(response.headers.get('content-type'), XML_TYPE);
        assert.equal(await response.text(), QUEUE_UNAVAILABLE);
        assert.ok(elapsedMs < 1_000, `answered after ${Math.round(elapsedMs)} ms`);
        assert.equal(child.exitCode, null, 'the service process is still running');

        child.stdin.end();
        assert.equal(await exited, 0);
      } finally {
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
        await exited;
        await removeTestData(config);
      }
    },
  );
});

describe('what the service keeps of a call', () => {
  it('writes no name, number, password, hash or secret of any call to its logs', () => {
    const lines = [
      ...logCaptures.flatMap((capture) => capture.lines),
      ...childStderr.split('\n'),
    ];

    assert.ok(
      lines.some((line) => line.includes('"msg":"job"')),
      'jobs were logged',
    );
    for (const probe of [NAME, NUMBER, PASSWORD, ...SECRETS, ...sentHashes]) {
      const leaks = lines.filter((line) => line.includes(probe));
      assert.deepEqual(leaks, [], `a log line holds ${probe}`);
    }
  });
});
