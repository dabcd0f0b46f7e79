import { QueueEvents } from 'bullmq';
import type { FastifyInstance } from 'fastify';
import type { Redis } from 'ioredis';
import type { Knex } from 'knex';
import type { Logger } from 'pino';
import { startCreateWorker, type RunningWorker } from '../workers/createRecordWorker.ts';
import {
  startDeliveryWorker,
  type RunningDeliveryWorker,
} from '../workers/webhookDeliveryWorker.ts';
import type { Config } from './config.ts';
import {
  connectDatabase,
  ensureDatabase,
  migrateLatest,
  migrationsApplied,
} from './db/connect.ts';
import { buildIngress } from './ingress/server.ts';
import { ResultWaiter } from './ingress/resultWaiter.ts';
import { errorFacts } from './log.ts';
import {
  connectRedis,
  CREATE_QUEUE,
  openCreateQueue,
  openDeliveryQueue,
  type CreateQueue,
  type DeliveryQueue,
} from './queue.ts';
import { redisDurabilityWarnings } from './redisCheck.ts';
import { withTimeout } from './timeout.ts';
import { systemLookup, type HostLookup } from './webhook/callbackTarget.ts';

/** Which parts this process runs. */
export interface ServiceParts {
  ingress: boolean;
  worker: boolean;
}

/** What a test may put in place of the machine's own. */
export interface ServiceOptions {
  /** Resolves webhook callback hosts (default: the system resolver). */
  lookupHost?: HostLookup;
}

export interface RunningService {
  config: Config;
  db: Knex;
  queue: CreateQueue;
  /** The webhook delivery queue; only a process that runs the worker opens it. */
  deliveryQueue: DeliveryQueue | undefined;
  app: FastifyInstance | undefined;
  worker: RunningWorker | undefined;
  deliveryWorker: RunningDeliveryWorker | undefined;
  warnings: string[];
  /** Stops taking requests, lets active jobs finish within the grace period, closes all. */
  stop: () => Promise<void>;
}

const READY_CHECK_TIMEOUT_MS = 2_000;
const REDIS_START_WAIT_MS = 5_000;

/** Waits for a connection's first `ready`, up to a bound; false when it did not come. */
async function redisReady(redis: Redis, timeoutMs: number): Promise<boolean> {
  if (redis.status === 'ready') return true;
  const ready = new Promise<true>((resolve) => redis.once('ready', () => resolve(true)));
  return withTimeout(ready, timeoutMs).catch(() => false);
}

async function check(
  name: string,
  probe: () => Promise<unknown>,
  checks: Record<string, string>,
) {
  try {
    await withTimeout(probe(), READY_CHECK_TIMEOUT_MS);
    checks[name] = 'ok';
    return true;
  } catch (error) {
    checks[name] = errorFacts(error).code ?? 'unreachable';
    return false;
  }
}

/**
 * Starts the service's parts against one database and one Redis: creates the
 * database when missing and applies migrations (knex locks them, so any number of
 * processes may start at once), then the ingress, the worker, or both.
 */
export async function startService(
  config: Config,
  log: Logger,
  parts: ServiceParts,
  options: ServiceOptions = {},
): Promise<RunningService> {
  await ensureDatabase(config.DATABASE_URL);
  const db = connectDatabase(config.DATABASE_URL, config.WORKER_CONCURRENCY + 4);
  await migrateLatest(db);

  const producer = connectRedis(config.REDIS_URL, 'producer');
  producer.on('error', () => {});
  const queue = openCreateQueue(config, producer);
  queue.on('error', (error) => log.warn({ err: errorFacts(error) }, 'queue error'));

  const warnings = (await redisReady(producer, REDIS_START_WAIT_MS))
    ? await redisDurabilityWarnings(producer)
    : ['Redis unreachable at start: eviction policy and persistence unknown'];
  for (const warning of warnings) log.warn(warning);

  const readiness = async () => {
    const checks: Record<string, string> = {};
    const redisOk = await check('redis', () => producer.ping(), checks);
    const postgresOk = await check('postgres', () => db.raw('select 1'), checks);
    const migrated =
      postgresOk &&
      (await check(
        'migrations',
        async () => {
          if (!(await migrationsApplied(db)))
            throw Object.assign(new Error(), { code: 'pending' });
        },
        checks,
      ));
    if (warnings.length > 0) checks.warnings = warnings.join('; ');
    return { ready: redisOk && postgresOk && migrated, checks };
  };

  let worker: RunningWorker | undefined;
  let deliveryWorker: RunningDeliveryWorker | undefined;
  let deliveryQueue: DeliveryQueue | undefined;
  let workerConnection: Redis | undefined;
  if (parts.worker) {
    workerConnection = connectRedis(config.REDIS_URL, 'consumer');
    workerConnection.on('error', () => {});
    deliveryQueue = openDeliveryQueue(config, producer);
    deliveryQueue.on('error', (error) =>
      log.warn({ err: errorFacts(error) }, 'queue error'),
    );
    const connection = workerConnection;
    worker = startCreateWorker({ config, db, log, connection, deliveryQueue });
    deliveryWorker = startDeliveryWorker({
      config,
      db,
      log,
      connection,
      queue: deliveryQueue,
      lookupHost: options.lookupHost ?? systemLookup,
    });
  }

  let app: FastifyInstance | undefined;
  let events: QueueEvents | undefined;
  let eventsConnection: Redis | undefined;
  let waiter: ResultWaiter | undefined;
  if (parts.ingress) {
    eventsConnection = connectRedis(config.REDIS_URL, 'consumer');
    eventsConnection.on('error', () => {});
    events = new QueueEvents(CREATE_QUEUE, {
      connection: eventsConnection,
      prefix: config.QUEUE_PREFIX,
    });
    events.on('error', (error) =>
      log.warn({ err: errorFacts(error) }, 'queue events error'),
    );
    await withTimeout(events.waitUntilReady(), REDIS_START_WAIT_MS).catch(
      () => undefined,
    );
    waiter = new ResultWaiter(events, db, config.RESULT_POLL_MS, log);
    app = await buildIngress({ config, log, queue, waiter, db, readiness });
  }

  const stop = async () => {
    await app?.close();
    await Promise.all([
      worker?.close(config.SHUTDOWN_GRACE_MS),
      deliveryWorker?.close(config.SHUTDOWN_GRACE_MS),
    ]);
    waiter?.close();
    const quick = (promise: Promise<unknown> | undefined) =>
      withTimeout(promise ?? Promise.resolve(), 1_000).catch(() => undefined);
    await quick(events?.close());
    await quick(queue.close());
    await quick(deliveryQueue?.close());
    producer.disconnect();
    workerConnection?.disconnect();
    eventsConnection?.disconnect();
    await quick(db.destroy());
  };

  return {
    config,
    db,
    queue,
    deliveryQueue,
    app,
    worker,
    deliveryWorker,
    warnings,
    stop,
  };
}
