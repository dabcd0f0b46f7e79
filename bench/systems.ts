import { randomBytes } from 'node:crypto';
import type { Knex } from 'knex';
import { Redis } from 'ioredis';
import { loadConfig } from '../src/config.ts';
import { openCreateQueue, type CreateQueue } from '../src/queue.ts';
import { sparePort } from '../test/sparePort.ts';
import { waitFor } from '../test/waitFor.ts';
import {
  backendPids,
  createDatabase,
  databaseUrl,
  dropDatabase,
  newDatabaseName,
} from './databases.ts';
import type { BenchOptions } from './options.ts';
import { baseEnvironment, cpuMs, LOOPBACK, nodeChild, type Child } from './processes.ts';
import { BenchRedis } from './redisServer.ts';

/**
 * The two systems the bench measures, each started fresh for every measured run with
 * a database (and for the service a Redis and queue prefix) of its own:
 * - service: the ingress and the worker as separate processes, run with node itself
 *   as the README tells supervisors to (`node --import tsx src/main.ts --ingress`);
 * - reference: bench/reference/server.ts, one process, one transaction per request.
 */

export type SystemKind = 'service' | 'reference';

const START_TIMEOUT_MS = 60_000;

/** Service settings the bench always sets: its own addresses, no rate limits, quiet logs. */
const FIXED_SERVICE_ENV = {
  HOST: LOOPBACK,
  LOG_LEVEL: 'warn',
  RATE_LIMIT_PER_CALLER: '0',
  RATE_LIMIT_PER_ADDRESS: '0',
};

/** The bench's places (database, Redis, prefix, port) the service must not take from the environment. */
const PLACES = new Set(['DATABASE_URL', 'REDIS_URL', 'QUEUE_PREFIX', 'HOST', 'PORT']);

/**
 * Service settings given to the bench itself (say `WORKER_CONCURRENCY=32 npm run
 * bench`) pass on to the service processes, but never its places.
 */
function tuningFromEnvironment(): Record<string, string> {
  const names = Object.keys(loadConfig({}));
  return Object.fromEntries(
    names.flatMap((name) => {
      const value = process.env[name];
      return value !== undefined && !PLACES.has(name) ? [[name, value]] : [];
    }),
  );
}

/**
 * With BENCH_PROFILE_DIR set, the service's processes write V8 CPU profiles there
 * when they exit (`node --cpu-prof`), one file per process, to open in Chrome DevTools.
 */
function profiling(): string[] {
  const dir = process.env.BENCH_PROFILE_DIR;
  return dir ? ['--cpu-prof', `--cpu-prof-dir=${dir}`] : [];
}

export function uniqueName(kind: string): string {
  return `${kind}_${process.pid}_${randomBytes(3).toString('hex')}`;
}

export interface RunningSystem {
  kind: SystemKind;
  baseUrl: string;
  /** The bench's own small pool on the system's database. */
  db: Knex;
  databaseName: string;
  /** The processes whose CPU and memory the bench reads, by role. */
  processes: Map<string, Child>;
  redis: BenchRedis | undefined;
  /** The bench's handle on the service's create queue (pause, resume, counts). */
  queue: CreateQueue | undefined;
  /** CPU time used so far by the system's processes, Redis and Postgres backends. */
  cpuSnapshot(): Promise<CpuSnapshot>;
  stop(): Promise<void>;
}

async function waitForHttp(baseUrl: string, path: string, child: Child): Promise<void> {
  await waitFor(
    `${child.name} to answer ${path}`,
    async () => {
      if (!child.alive) throw new Error(`${child.name} exited: ${child.stderr}`);
      const response = await fetch(`${baseUrl}${path}`).catch(() => undefined);
      return response?.status === 200;
    },
    START_TIMEOUT_MS,
  );
}

/** CPU time used so far in ms, by part (ingress, worker, redis, postgres) and pid. */
export type CpuSnapshot = Record<string, Record<number, number>>;

function cpuOf(pids: number[]): Record<number, number> {
  return Object.fromEntries(pids.map((pid) => [pid, cpuMs(pid)]));
}

/**
 * CPU time used between two snapshots, by part, in ms. A process that started in
 * between counts from 0; one that exited in between is missed (pools keep theirs).
 */
export function cpuUsed(before: CpuSnapshot, after: CpuSnapshot): Record<string, number> {
  return Object.fromEntries(
    Object.entries(after).map(([part, pids]) => [
      part,
      Object.entries(pids).reduce(
        (sum, [pid, ms]) => sum + ms - (before[part]?.[Number(pid)] ?? 0),
        0,
      ),
    ]),
  );
}

/** Systems started and not yet stopped, so an interrupted bench can remove them. */
const started = new Set<RunningSystem>();

export async function stopEverySystem(): Promise<void> {
  await Promise.all([...started].map((system) => system.stop()));
}

async function stopAll(system: RunningSystem): Promise<void> {
  if (!started.delete(system)) return;
  await Promise.all([...system.processes.values()].map((child) => child.stop()));
  await system.queue?.close().catch(() => undefined);
  await system.redis?.stop();
  await system.db.destroy();
  await dropDatabase(system.databaseName);
}

export interface ServiceStart {
  /** Start the worker too (default true). */
  worker?: boolean;
}

/** Starts the service's ingress and worker on a fresh database, Redis and prefix. */
export async function startService(
  _options: BenchOptions,
  start: ServiceStart = {},
): Promise<RunningSystem> {
  const databaseName = newDatabaseName('service');
  const db = await createDatabase(databaseName);
  const redis = await BenchRedis.start();
  const prefix = uniqueName('bench');
  const port = await sparePort();
  const env = {
    ...baseEnvironment(),
    ...tuningFromEnvironment(),
    ...FIXED_SERVICE_ENV,
    DATABASE_URL: databaseUrl(databaseName),
    REDIS_URL: redis.url,
    QUEUE_PREFIX: prefix,
    PORT: String(port),
  };
  const connection = new Redis(redis.url, { maxRetriesPerRequest: null });
  connection.on('error', () => {});
  const queue = openCreateQueue(loadConfig(env), connection);

  const processes = new Map<string, Child>();
  const system: RunningSystem = {
    kind: 'service',
    baseUrl: `http://${LOOPBACK}:${port}`,
    db,
    databaseName,
    processes,
    redis,
    queue,
    cpuSnapshot: async () => ({
      ...Object.fromEntries(
        [...processes].map(([role, child]) => [role, cpuOf([child.pid])]),
      ),
      redis: cpuOf([redis.pid]),
      postgres: cpuOf(await backendPids(db, databaseName)),
    }),
    stop: async () => {
      await stopAll(system);
      connection.disconnect();
    },
  };
  started.add(system);

  try {
    const ingress = nodeChild(
      'ingress',
      [...profiling(), 'src/main.ts', '--ingress'],
      env,
    );
    processes.set('ingress', ingress);
    if (start.worker ?? true) await startWorker(system, env);
    await waitForHttp(system.baseUrl, '/readyz', ingress);
    return system;
  } catch (error) {
    await system.stop();
    throw error;
  }
}

/** Starts a worker process on a running service's database and queue. */
async function startWorker(
  system: RunningSystem,
  env: Record<string, string>,
): Promise<void> {
  const worker = nodeChild('worker', [...profiling(), 'src/main.ts', '--worker'], env);
  system.processes.set('worker', worker);
  await waitFor(
    'the worker to take jobs',
    async () => {
      if (!worker.alive) throw new Error(`worker exited: ${worker.stderr}`);
      return (await system.queue!.getWorkersCount()) > 0;
    },
    START_TIMEOUT_MS,
  );
}

/** Starts the reference on a fresh database. */
export async function startReference(options: BenchOptions): Promise<RunningSystem> {
  const databaseName = newDatabaseName('reference');
  const db = await createDatabase(databaseName);
  const port = await sparePort();
  const processes = new Map<string, Child>();
  const system: RunningSystem = {
    kind: 'reference',
    baseUrl: `http://${LOOPBACK}:${port}`,
    db,
    databaseName,
    processes,
    redis: undefined,
    queue: undefined,
    cpuSnapshot: async () => ({
      reference: cpuOf([processes.get('reference')?.pid ?? -1]),
      postgres: cpuOf(await backendPids(db, databaseName)),
    }),
    stop: () => stopAll(system),
  };
  started.add(system);

  try {
    const reference = nodeChild('reference', ['bench/reference/server.ts'], {
      ...baseEnvironment(),
      DATABASE_URL: databaseUrl(databaseName),
      PORT: String(port),
      POOL_SIZE: String(options.referencePoolSize),
    });
    processes.set('reference', reference);
    await waitForHttp(system.baseUrl, '/healthz', reference);
    return system;
  } catch (error) {
    await system.stop();
    throw error;
  }
}

export async function startSystem(
  kind: SystemKind,
  options: BenchOptions,
): Promise<RunningSystem> {
  return kind === 'service' ? startService(options) : startReference(options);
}
