import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { Redis } from 'ioredis';
import pg from 'pg';
import { loadConfig, type Config } from '../src/config.ts';
import { seedDemo } from '../src/db/seedDemo.ts';
import { computeHash } from '../src/hash.ts';
import { createLogger } from '../src/log.ts';
import {
  startService,
  type RunningService,
  type ServiceOptions,
  type ServiceParts,
} from '../src/service.ts';
import * as polling from './waitFor.ts';

/**
 * Test harness: every test file gets its own Postgres database and BullMQ prefix, so
 * runs cannot collide, and talks to the real Redis and Postgres of this machine.
 */

const ADMIN_URL =
  process.env.TEST_DATABASE_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
export const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

export const EXAMPLE_HASH = '1272cf77ba94153d59c87f699906e726277ff240';
export const EXAMPLE_PATH =
  '/billing/api/phonebook_record_create?u=username&user_id=2&name=phonebook&number=920355666' +
  `&speeddial=666&hash=${EXAMPLE_HASH}`;

export function uniqueName(kind: string): string {
  return `${kind}_${process.pid}_${randomBytes(4).toString('hex')}`;
}

export function databaseUrl(name: string): string {
  const url = new URL(ADMIN_URL);
  url.pathname = `/${name}`;
  return url.toString();
}

export async function adminQuery(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: ADMIN_URL });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

/** Every Redis key under a BullMQ prefix, read with SCAN so Redis is never blocked. */
async function keysUnder(redis: Redis, prefix: string): Promise<string[]> {
  const found: string[] = [];
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    cursor = next;
    found.push(...keys);
  } while (cursor !== '0');
  return found;
}

/** Removes a test database, closing whatever connections it still has. */
export async function dropDatabase(name: string): Promise<void> {
  await adminQuery(`drop database if exists "${name}" with (force)`);
}

/** Deletes every Redis key under a BullMQ prefix. */
export async function deleteQueueKeys(
  prefix: string,
  redisUrl: string = REDIS_URL,
): Promise<void> {
  const redis = new Redis(redisUrl);
  try {
    const keys = await keysUnder(redis, prefix);
    if (keys.length > 0) await redis.del(...keys);
  } finally {
    redis.disconnect();
  }
}

/**
 * Every key under a BullMQ prefix with its contents as text, whatever the key's type,
 * so a test can look for what must not be kept.
 */
export async function queueContents(prefix: string): Promise<Map<string, string>> {
  const redis = new Redis(REDIS_URL);
  const read: Record<string, (key: string) => Promise<unknown>> = {
    string: (key) => redis.get(key),
    hash: (key) => redis.hgetall(key),
    list: (key) => redis.lrange(key, 0, -1),
    set: (key) => redis.smembers(key),
    zset: (key) => redis.zrange(key, 0, -1),
    stream: (key) => redis.xrange(key, '-', '+'),
  };
  try {
    const contents = new Map<string, string>();
    for (const key of await keysUnder(redis, prefix)) {
      const type = await redis.type(key);
      const value = await (read[type] ?? (async () => `(${type})`))(key);
      contents.set(key, JSON.stringify(value));
    }
    return contents;
  } finally {
    redis.disconnect();
  }
}

/** Every log line a service wrote, as parsed JSON objects and raw text. */
export class LogCapture extends Writable {
  readonly lines: string[] = [];

  override _write(chunk: Buffer, _encoding: string, done: () => void): void {
    this.lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
    done();
  }

  get text(): string {
    return this.lines.join('\n');
  }
}

export interface TestService extends RunningService {
  logs: LogCapture;
  /** Stops the service and removes its database and queue keys. */
  dispose: () => Promise<void>;
}

/**
 * A configuration for a test service with its own fresh database and queue prefix;
 * `env` overrides any value, as the environment would.
 */
export function testConfig(env: Record<string, string> = {}): Config {
  return loadConfig({
    DATABASE_URL: databaseUrl(uniqueName('phonebook_test')),
    REDIS_URL,
    QUEUE_PREFIX: uniqueName('test'),
    PORT: '0',
    SYNC_WAIT_MS: '10000',
    RESULT_POLL_MS: '200',
    JOB_BACKOFF_MS: '50',
    WORKER_CONCURRENCY: '8',
    LOG_LEVEL: 'info',
    ...env,
  });
}

/** Removes what a test service left: its queue keys and its database. */
export async function removeTestData(config: Config): Promise<void> {
  const databaseName = decodeURIComponent(new URL(config.DATABASE_URL).pathname.slice(1));
  await deleteQueueKeys(config.QUEUE_PREFIX);
  await dropDatabase(databaseName);
}

async function startWithLogs(
  config: Config,
  parts: ServiceParts,
  options: ServiceOptions = {},
): Promise<RunningService & { logs: LogCapture }> {
  const logs = new LogCapture();
  const service = await startService(
    config,
    createLogger(config.LOG_LEVEL, logs),
    parts,
    options,
  );
  return { ...service, logs };
}

export async function startTestService(
  env: Record<string, string> = {},
  parts: ServiceParts = { ingress: true, worker: true },
  options: ServiceOptions = {},
): Promise<TestService> {
  const service = await startWithLogs(testConfig(env), parts, options);
  await seedDemo(service.db);

  const dispose = async () => {
    await service.stop();
    await removeTestData(service.config);
  };

  return { ...service, dispose };
}

/**
 * Starts more parts (say, a worker beside an ingress) on the database and queue prefix
 * of a running test service. Its `dispose` only stops it: the first service owns the data.
 */
export async function startSibling(
  of: TestService,
  parts: ServiceParts,
): Promise<TestService> {
  const service = await startWithLogs(of.config, parts);
  return { ...service, dispose: service.stop };
}

/** Signs a call the way a MOR client does: hash over the signed params and the secret. */
export function sign(
  params: Record<string, string>,
  secret: string,
): Record<string, string> {
  const bytes = Object.fromEntries(
    Object.entries(params).map(([key, value]) => [key, Buffer.from(value, 'utf8')]),
  );
  return { ...params, hash: computeHash(bytes, secret) };
}

export function query(params: Record<string, string>): string {
  return new URLSearchParams(params).toString();
}

export const CREATE_PATH = '/billing/api/phonebook_record_create';

/** The path of a call by the user `u`, its fields signed with its scope's secret. */
export function signedPath(
  u: string,
  fields: Record<string, string>,
  secret: string,
  path = CREATE_PATH,
): string {
  return `${path}?${query({ u, ...sign(fields, secret) })}`;
}

/** The job id at the end of a status Location such as `/billing/api/jobs/<id>`. */
export function jobIdOf(location: string | string[] | number | undefined): string {
  const id = String(location).split('/').pop();
  assert.ok(id, `no job id in the Location ${String(location)}`);
  return id;
}

/**
 * `waitFor` of ./waitFor.ts as the in-process tests use it: asked every 20 ms, and
 * bounded at 10 s unless told otherwise.
 */
export function waitFor<T>(
  what: string,
  probe: polling.Probe<T>,
  timeoutMs = 10_000,
): Promise<T> {
  return polling.waitFor(what, probe, timeoutMs, 20);
}

/** The exact XML of a MOR answer framed in `<page>`. */
export function pageXml(kind: 'success' | 'error', text: string): string {
  return (
    '<?xml version="1.0" encoding="UTF-8"?>\n<page>\n  <status>\n' +
    `    <${kind}>${text}</${kind}>\n  </status>\n</page>\n`
  );
}

/** The exact XML of a bare MOR answer. */
export function bareXml(text: string): string {
  return `<?xml version="1.0" encoding="UTF-8"?>\n<status>\n  <error>${text}</error>\n</status>\n`;
}

/** The exact XML of a job that has no result yet. */
export function pendingXml(jobId: string, state: string): string {
  return (
    '<?xml version="1.0" encoding="UTF-8"?>\n<page>\n  <status>\n' +
    `    <job_id>${jobId}</job_id>\n    <state>${state}</state>\n  </status>\n</page>\n`
  );
}

export async function countRecords(service: RunningService): Promise<number> {
  const [row] = await service
    .db('phonebook_records')
    .count<{ count: string }[]>('* as count');
  return Number(row?.count ?? 0);
}

export interface ApiCall {
  method?: 'GET' | 'POST';
  /** Params sent in the query string. */
  query?: Record<string, string>;
  /** A raw body and its content type. */
  body?: string | Buffer;
  contentType?: string;
  headers?: Record<string, string>;
  path?: string;
}

/** Sends a request to the in-process ingress and returns status, headers and body. */
export async function callApi(service: RunningService, call: ApiCall) {
  const search = call.query ? `?${query(call.query)}` : '';
  const headers = {
    ...(call.contentType ? { 'content-type': call.contentType } : {}),
    ...call.headers,
  };
  return service.app!.inject({
    method: call.method ?? 'POST',
    url: `${call.path ?? CREATE_PATH}${search}`,
    headers,
    ...(call.body !== undefined ? { payload: call.body } : {}),
  });
}

let nextSpeeddial = 100;

/** A signed call of user 2 (`username`, global secret) with fresh record fields. */
export function userCall(overrides: Record<string, string> = {}): Record<string, string> {
  const params = {
    user_id: '2',
    number: '37060000000',
    name: 'Front desk',
    speeddial: String(nextSpeeddial++),
    ...overrides,
  };
  return { u: 'username', ...sign(params, 'secret') };
}
