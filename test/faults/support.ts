import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import type { TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import type { Knex } from 'knex';
import pg from 'pg';
import { loadConfig } from '../../src/config.ts';
import { connectDatabase, ensureDatabase, migrateLatest } from '../../src/db/connect.ts';
import { seedDemo } from '../../src/db/seedDemo.ts';
import {
  CREATE_JOB,
  createJobOptions,
  openCreateQueue,
  type CreateQueue,
} from '../../src/queue.ts';
import {
  CREATE_PATH,
  databaseUrl,
  deleteQueueKeys,
  dropDatabase,
  REDIS_URL,
  uniqueName,
} from '../harness.ts';
import { sparePort } from '../sparePort.ts';
import { waitFor } from '../waitFor.ts';
import { BATCHES_IN_FLIGHT } from '../../workers/createRecordWorker.ts';

export { waitFor };

/**
 * Support for the fault suite (issue 3): the service runs as real processes
 * (`src/main.ts`), and each scenario breaks what sits between them.
 *
 * - scenario: one fault test. It owns a database, a queue prefix, and every process,
 *   Redis server, proxy and connection it starts; all are removed when it ends,
 *   passed or failed.
 * - service process: `node --import tsx src/main.ts` with a role flag. Run through
 *   node itself (not the `tsx` wrapper) so the pid signalled is the service's own.
 * - own Redis: a redis-server the scenario starts on a spare loopback port, for the
 *   faults that stop Redis. The machine's shared Redis is never stopped.
 */

const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));
const LOOPBACK = '127.0.0.1';

/** How long a service process may take to start (tsx compiles on first load). */
const START_TIMEOUT_MS = 30_000;

const ROLE_ARGS = { ingress: ['--ingress'], worker: ['--worker'], both: [] } as const;

export type Role = keyof typeof ROLE_ARGS;

/** One pino line of a service process; the fields the suite reads. */
export interface LogLine {
  msg?: string;
  jobId?: string;
  outcome?: string;
  firstAttempt?: boolean;
  retry?: boolean;
  address?: string;
  [field: string]: unknown;
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The promise's value, or undefined when the time runs out first. */
export async function within<T>(
  promise: Promise<T>,
  timeoutMs: number,
): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), timeoutMs);
  });
  try {
    return await Promise.race([promise, timedOut]);
  } finally {
    clearTimeout(timer);
  }
}

/** Writes a scenario's measured numbers under its test in the report, rounded. */
export function report(t: TestContext, facts: Record<string, number | string>): void {
  const text = (value: number | string) =>
    typeof value === 'number' ? String(Math.round(value)) : value;
  t.diagnostic(
    Object.entries(facts)
      .map(([name, value]) => `${name} ${text(value)}`)
      .join(', '),
  );
}

/** Undo steps, run last first; every step runs even when an earlier one throws. */
class Cleanup {
  private readonly steps: Array<() => Promise<void>> = [];

  add(step: () => Promise<void>): void {
    this.steps.push(step);
  }

  async run(): Promise<void> {
    const errors: unknown[] = [];
    for (const step of this.steps.splice(0).reverse()) {
      try {
        await step();
      } catch (error) {
        errors.push(error);
      }
    }
    if (errors.length > 0) throw new AggregateError(errors, 'scenario cleanup failed');
  }
}

/** Resolves once a child process has exited; at once when it has already. */
function exitOf(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.once('error', () => resolve());
  });
}

async function killAndWait(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGCONT');
  child.kill('SIGKILL');
  await exitOf(child);
}

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** A service process and every log line it wrote. */
export class ServiceProcess {
  readonly logs: LogLine[] = [];
  stderr = '';
  readonly exited: Promise<Exit>;
  private readonly child: ChildProcess;
  private readonly onLine = new Set<(line: LogLine) => void>();

  constructor(
    readonly role: Role,
    env: Record<string, string>,
  ) {
    this.child = spawn(
      process.execPath,
      ['--import', 'tsx', 'src/main.ts', ...ROLE_ARGS[role]],
      {
        cwd: REPO_ROOT,
        env,
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    this.exited = new Promise((resolve) =>
      this.child.once('exit', (code, signal) => resolve({ code, signal })),
    );
    createInterface({ input: this.child.stdout! }).on('line', (text) => {
      const line = parseLine(text);
      this.logs.push(line);
      for (const listener of this.onLine) listener(line);
    });
    this.child.stderr!.on('data', (chunk: Buffer) => {
      this.stderr += chunk.toString('utf8');
    });
  }

  get pid(): number {
    return this.child.pid!;
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  signal(signal: NodeJS.Signals): void {
    this.child.kill(signal);
  }

  async kill(): Promise<void> {
    await killAndWait(this.child);
  }

  /** The exit, or undefined when the process still runs after the bound. */
  exitWithin(timeoutMs: number): Promise<Exit | undefined> {
    return within(this.exited, timeoutMs);
  }

  /** The first line, past or future, that matches; throws after the bound. */
  waitForLog(match: (line: LogLine) => boolean, timeoutMs: number): Promise<LogLine> {
    const seen = this.logs.find(match);
    if (seen !== undefined) return Promise.resolve(seen);

    return new Promise((resolve, reject) => {
      const listener = (line: LogLine) => {
        if (!match(line)) return;
        done();
        resolve(line);
      };
      const timer = setTimeout(() => {
        done();
        reject(
          new Error(`no matching log line in ${timeoutMs} ms; stderr: ${this.stderr}`),
        );
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        this.onLine.delete(listener);
      };
      this.onLine.add(listener);
    });
  }

  /** Lines logged for finished attempts (`job`), as the worker writes them. */
  jobLines(): LogLine[] {
    return this.logs.filter((line) => line.msg === 'job');
  }
}

function parseLine(text: string): LogLine {
  try {
    return JSON.parse(text) as LogLine;
  } catch {
    return { msg: text };
  }
}

/** Answers whether something on the port speaks Redis (`PING` gets `+PONG`). */
function redisAnswers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: LOOPBACK, port });
    const finish = (answer: boolean) => {
      socket.destroy();
      resolve(answer);
    };
    socket.setTimeout(500, () => finish(false));
    socket.once('error', () => finish(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.once('data', (data) => finish(data.toString().startsWith('+PONG')));
  });
}

/**
 * A redis-server of the scenario's own, on a spare loopback port, persisting to an
 * append-only file in its own directory, so a stop and start keeps what it held.
 */
export class RedisServer {
  private child: ChildProcess | undefined;
  log = '';

  constructor(
    readonly port: number,
    readonly dir: string,
  ) {}

  get url(): string {
    return `redis://${LOOPBACK}:${this.port}`;
  }

  get running(): boolean {
    return (
      this.child !== undefined &&
      this.child.exitCode === null &&
      this.child.signalCode === null
    );
  }

  /** Starts the server and returns once it answers PING. */
  async start(): Promise<void> {
    // prettier-ignore
    const args = [
      '--port', String(this.port), '--bind', LOOPBACK, '--dir', this.dir,
      '--appendonly', 'yes', '--save', '', '--daemonize', 'no',
    ];
    const child = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.on('data', (chunk: Buffer) => (this.log += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (this.log += chunk.toString('utf8')));
    this.child = child;
    await waitFor(
      `redis-server on port ${this.port}`,
      async () =>
        !this.running ? Promise.reject(new Error(this.log)) : redisAnswers(this.port),
      10_000,
      50,
    );
  }

  /** `SHUTDOWN` as an operator sends it: the append-only file is flushed first. */
  async shutdown(): Promise<void> {
    const child = this.child;
    if (child === undefined || !this.running) return;
    const cli = spawn(
      'redis-cli',
      ['-h', LOOPBACK, '-p', String(this.port), 'shutdown'],
      {
        stdio: 'ignore',
      },
    );
    await exitOf(cli);
    if (
      (await within(
        exitOf(child).then(() => true),
        10_000,
      )) === undefined
    ) {
      throw new Error(`redis-server on port ${this.port} did not shut down: ${this.log}`);
    }
  }

  async kill(): Promise<void> {
    if (this.child !== undefined) await killAndWait(this.child);
  }
}

/**
 * A TCP proxy to Postgres that the scenario can cut: `cut` closes the listener and
 * destroys every open socket (both sides), so the service sees the database vanish;
 * `open` listens again on the same port.
 */
export class PostgresProxy {
  private server: net.Server | undefined;
  private readonly sockets = new Set<net.Socket>();

  constructor(
    readonly port: number,
    private readonly target: { host: string; port: number },
  ) {}

  async open(): Promise<void> {
    const server = net.createServer((client) => this.forward(client));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, LOOPBACK, resolve);
    });
    this.server = server;
  }

  async cut(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    const closed = server
      ? new Promise((resolve) => server.close(resolve))
      : Promise.resolve();
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
    await closed;
  }

  private forward(client: net.Socket): void {
    const upstream = net.connect(this.target);
    for (const socket of [client, upstream]) {
      this.sockets.add(socket);
      socket.on('error', () => {});
      socket.once('close', () => {
        this.sockets.delete(socket);
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream).pipe(client);
  }
}

/** A row lock held by a test connection; jobs that need the row wait for it. */
export interface RowLock {
  release(): Promise<void>;
}

export interface CallResponse {
  status: number;
  contentType: string | null;
  body: string;
  jobId: string | undefined;
  elapsedMs: number;
}

const JOB_ID = /<job_id>([^<]+)</;

/** POSTs a call to an ingress process as a form body; async unless told otherwise. */
export async function postCall(
  baseUrl: string,
  params: Record<string, string>,
  options: { async?: boolean; timeoutMs?: number } = {},
): Promise<CallResponse> {
  const started = performance.now();
  const response = await fetch(`${baseUrl}${CREATE_PATH}`, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      ...(options.async === false ? {} : { prefer: 'respond-async' }),
    },
    body: new URLSearchParams(params).toString(),
    signal: AbortSignal.timeout(options.timeoutMs ?? 30_000),
  });
  const body = await response.text();
  return {
    status: response.status,
    contentType: response.headers.get('content-type'),
    body,
    jobId: JOB_ID.exec(body)?.[1],
    elapsedMs: performance.now() - started,
  };
}

/**
 * Sends every call, `concurrency` at a time, and returns the answers in order. With
 * `perSecond`, call N is not sent before N / perSecond seconds have passed, so the
 * calls arrive over a known stretch of time however fast the machine is.
 */
export async function postCalls(
  baseUrl: string,
  calls: Record<string, string>[],
  concurrency: number,
  perSecond = Infinity,
): Promise<CallResponse[]> {
  const answers: CallResponse[] = new Array(calls.length);
  const started = performance.now();
  let next = 0;
  const lane = async () => {
    while (next < calls.length) {
      const index = next++;
      const due = started + (index * 1_000) / perSecond;
      if (due > performance.now()) await sleep(due - performance.now());
      answers[index] = await postCall(baseUrl, calls[index]!);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, lane));
  return answers;
}

export interface QueueCounts {
  waiting: number;
  active: number;
  delayed: number;
  failed: number;
}

/** The scenario's jobs in Redis by state (completed jobs leave Redis at once). */
export async function queueCounts(queue: CreateQueue): Promise<QueueCounts> {
  const counts = await queue.getJobCounts('waiting', 'active', 'delayed', 'failed');
  return {
    waiting: counts.waiting ?? 0,
    active: counts.active ?? 0,
    delayed: counts.delayed ?? 0,
    failed: counts.failed ?? 0,
  };
}

export const EMPTY_QUEUE: QueueCounts = { waiting: 0, active: 0, delayed: 0, failed: 0 };

/**
 * Waits until every job has ended (none waiting, active or delayed), and returns the
 * counts then: failed jobs stay. A job whose result is stored may stay active in
 * Redis until it is run again, and after a kill or a Redis restart the stalled-job
 * check moves it back to waiting first, once its lock lapsed.
 */
export function waitForNoPendingJob(
  queue: CreateQueue,
  timeoutMs: number,
): Promise<QueueCounts> {
  return waitFor(
    'no job waiting, active or delayed in the queue',
    async () => {
      const counts = await queueCounts(queue);
      const pending = counts.waiting + counts.active + counts.delayed;
      return pending === 0 ? counts : undefined;
    },
    timeoutMs,
  );
}

export interface StoredResult {
  jobId: string;
  success: boolean;
  resultXml: string;
}

/** The child-process environment: only what node needs, and the service's config. */
function baseEnvironment(): Record<string, string> {
  const kept = ['PATH', 'HOME', 'TMPDIR', 'LANG', 'TZ'];
  return Object.fromEntries(
    kept.flatMap((name) => (process.env[name] ? [[name, process.env[name]]] : [])),
  );
}

/** One fault scenario: its database, queue prefix, processes and servers. */
export class Scenario {
  readonly prefix = uniqueName('fault');
  readonly databaseName = uniqueName('phonebook_fault');
  /** The scenario's database, reached directly (never through a proxy). */
  readonly databaseUrl = databaseUrl(this.databaseName);
  readonly processes: ServiceProcess[] = [];
  private readonly cleanup = new Cleanup();
  private database: Knex | undefined;

  /** Opens a scenario whose cleanup runs after the test, whatever its outcome. */
  static async open(t: TestContext): Promise<Scenario> {
    const scenario = new Scenario();
    t.after(() => scenario.cleanup.run());
    await scenario.createDatabase();
    return scenario;
  }

  /** The test's own connection to the scenario's database. */
  get db(): Knex {
    if (this.database === undefined) throw new Error('database not created');
    return this.database;
  }

  private async createDatabase(): Promise<void> {
    this.cleanup.add(() => dropDatabase(this.databaseName));
    this.cleanup.add(() => deleteQueueKeys(this.prefix, REDIS_URL));

    await ensureDatabase(this.databaseUrl);
    const db = connectDatabase(this.databaseUrl, 4);
    this.cleanup.add(() => db.destroy());
    this.database = db;
    await migrateLatest(db);
    await seedDemo(db);
  }

  /**
   * The service's configuration for this scenario: its database, prefix and the
   * shared Redis unless overridden, short locks so a dead worker's jobs come back
   * in seconds, no worker health server, and logs at info (the suite reads the
   * `job` lines).
   */
  environment(overrides: Record<string, string> = {}): Record<string, string> {
    return {
      ...baseEnvironment(),
      DATABASE_URL: this.databaseUrl,
      REDIS_URL,
      QUEUE_PREFIX: this.prefix,
      HOST: LOOPBACK,
      PORT: '0',
      LOG_LEVEL: 'info',
      WORKER_LOCK_MS: '2000',
      WORKER_STALLED_INTERVAL_MS: '1000',
      JOB_BACKOFF_MS: '200',
      RESULT_POLL_MS: '200',
      SHUTDOWN_GRACE_MS: '5000',
      // Several workers run on this machine at once: none takes the fixed health port.
      WORKER_HEALTH_PORT: '0',
      ...overrides,
    };
  }

  /** Spawns a service process; it is killed when the scenario ends if still alive. */
  spawn(role: Role, overrides: Record<string, string> = {}): ServiceProcess {
    const service = new ServiceProcess(role, this.environment(overrides));
    this.processes.push(service);
    this.cleanup.add(() => service.kill());
    return service;
  }

  /** Spawns an ingress (or both parts) and returns it with its base URL once listening. */
  async startIngress(
    overrides: Record<string, string> = {},
    role: 'ingress' | 'both' = 'ingress',
  ): Promise<{ service: ServiceProcess; baseUrl: string }> {
    const service = this.spawn(role, overrides);
    const line = await service.waitForLog(
      (entry) => entry.msg === 'ingress listening',
      START_TIMEOUT_MS,
    );
    return { service, baseUrl: String(line.address) };
  }

  /** Starts a redis-server of the scenario's own; stopped and removed at the end. */
  async startRedis(): Promise<RedisServer> {
    const dir = await mkdtemp(path.join(tmpdir(), 'phonebook-fault-redis-'));
    const server = new RedisServer(await sparePort(), dir);
    this.cleanup.add(async () => {
      await server.kill();
      await rm(dir, { recursive: true, force: true });
    });
    this.cleanup.add(async () => {
      if (server.running) await deleteQueueKeys(this.prefix, server.url);
    });
    await server.start();
    return server;
  }

  /** Opens a proxy to the scenario's Postgres on a spare loopback port. */
  async openPostgresProxy(): Promise<PostgresProxy> {
    const target = new URL(this.databaseUrl);
    const proxy = new PostgresProxy(await sparePort(), {
      host: target.hostname,
      port: Number(target.port || 5432),
    });
    this.cleanup.add(() => proxy.cut());
    await proxy.open();
    return proxy;
  }

  /** The scenario's database URL, reached through a proxy on the given port. */
  databaseUrlVia(port: number): string {
    const url = new URL(this.databaseUrl);
    url.port = String(port);
    return url.toString();
  }

  /**
   * Takes `FOR UPDATE` on a user's row from a test connection. Storing a record for
   * that user needs a key-share lock on the row (the foreign key), so every job for
   * the user waits inside its transaction until the lock is released.
   */
  async lockUserRow(userId: number): Promise<RowLock> {
    const client = new pg.Client({ connectionString: this.databaseUrl });
    await client.connect();
    let open = true;
    const release = async () => {
      if (!open) return;
      open = false;
      await client.query('commit').finally(() => client.end());
    };
    this.cleanup.add(release);
    await client.query('begin');
    await client.query('select id from users where id = $1 for update', [userId]);
    return { release };
  }

  /** Backends of this scenario's database waiting for a lock. */
  async backendsWaitingForLocks(): Promise<number> {
    const [row] = await this.db('pg_stat_activity')
      .where({ datname: this.databaseName, wait_event_type: 'Lock' })
      .count<{ count: string }[]>('* as count');
    return Number(row?.count ?? 0);
  }

  /**
   * Waits until exactly `count` backends of the scenario's database wait for a lock:
   * the attempts held inside their transaction by `lockUserRow`.
   */
  /**
   * Waits until a worker running `concurrency` jobs holds every one of them active
   * while `lockUserRow` stops them: one backend waits for each batch it stores at
   * once, and the rest wait for a free batch.
   */
  async waitForHeldJobs(
    queue: CreateQueue,
    concurrency: number,
    timeoutMs: number,
  ): Promise<void> {
    await this.waitForLockWaiters(Math.min(concurrency, BATCHES_IN_FLIGHT), timeoutMs);
    await waitFor(
      `${concurrency} active jobs`,
      async () => (await queue.getActiveCount()) === concurrency,
      timeoutMs,
    );
  }

  async waitForLockWaiters(count: number, timeoutMs: number): Promise<void> {
    await waitFor(
      `${count} backends waiting for a lock`,
      async () => (await this.backendsWaitingForLocks()) === count,
      timeoutMs,
    );
  }

  /**
   * A BullMQ queue on the given Redis under the scenario's prefix, for adding jobs
   * and reading counts. Its connection waits for Redis rather than failing.
   */
  openQueue(redisUrl: string = REDIS_URL): CreateQueue {
    const connection = new Redis(redisUrl, { maxRetriesPerRequest: null });
    connection.on('error', () => {});
    const queue = openCreateQueue(
      loadConfig(this.environment({ REDIS_URL: redisUrl })),
      connection,
    );
    queue.on('error', () => {});
    this.cleanup.add(async () => {
      await within(queue.close(), 1_000);
      connection.disconnect();
    });
    return queue;
  }

  /** Adds a call as the ingress would, with the job options the service uses. */
  async addJob(queue: CreateQueue, params: Record<string, string>): Promise<string> {
    const jobId = randomUUID();
    const config = loadConfig(this.environment());
    await queue.add(
      CREATE_JOB,
      { method: 'POST', params, acceptedAtMs: Date.now() },
      createJobOptions(config, jobId),
    );
    return jobId;
  }

  async storedResults(): Promise<StoredResult[]> {
    const rows = await this.db('job_results').select<
      { job_id: string; success: boolean; result_xml: string }[]
    >('job_id', 'success', 'result_xml');
    return rows.map((row) => ({
      jobId: row.job_id,
      success: row.success,
      resultXml: row.result_xml,
    }));
  }

  async countResults(): Promise<number> {
    const [row] = await this.db('job_results').count<{ count: string }[]>('* as count');
    return Number(row?.count ?? 0);
  }

  async countRecords(): Promise<number> {
    const [row] =
      await this.db('phonebook_records').count<{ count: string }[]>('* as count');
    return Number(row?.count ?? 0);
  }

  /** Waits until the given number of results are stored; returns the count. */
  async waitForResults(count: number, timeoutMs: number): Promise<number> {
    return waitFor(
      `${count} stored results`,
      async () => {
        const stored = await this.countResults();
        return stored >= count ? stored : undefined;
      },
      timeoutMs,
      200,
    );
  }

  /** Every `job` log line of every process the scenario started. */
  jobLines(): LogLine[] {
    return this.processes.flatMap((service) => service.jobLines());
  }
}
