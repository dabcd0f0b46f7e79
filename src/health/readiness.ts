import type { Redis } from 'ioredis';
import type { Knex } from 'knex';
import { migrationsApplied } from '../db/connect.ts';
import { errorFacts } from '../log.ts';
import { withTimeout } from '../timeout.ts';
import type { WorkerReadiness } from './workerReadiness.ts';

/**
 * `/readyz` of a process: Redis and Postgres answer, the migrations are applied, and
 * each worker the process runs is consuming (workerReadiness.ts). Every check is
 * bounded, so a probe is answered within a few seconds whatever is down.
 */

export interface ReadinessReport {
  ready: boolean;
  /** `ok` or a short reason per check; `warnings` when Redis's settings risk jobs. */
  checks: Record<string, string>;
}

export type Readiness = () => Promise<ReadinessReport>;

export interface ReadinessDeps {
  redis: Redis;
  db: Knex;
  /** Redis durability warnings, kept up to date by the service. */
  warnings: string[];
  workers: WorkerReadiness[];
}

const CHECK_TIMEOUT_MS = 2_000;

/** Runs one check into `checks`; true when it passed. */
async function check(
  checks: Record<string, string>,
  name: string,
  probe: () => Promise<string>,
): Promise<boolean> {
  try {
    checks[name] = await withTimeout(probe(), CHECK_TIMEOUT_MS);
  } catch (error) {
    checks[name] = errorFacts(error).code ?? 'unreachable';
  }
  return checks[name] === 'ok';
}

async function redisCheck(redis: Redis): Promise<string> {
  await redis.ping();
  return 'ok';
}

async function postgresCheck(db: Knex): Promise<string> {
  await db.raw('select 1');
  return 'ok';
}

async function migrationsCheck(db: Knex): Promise<string> {
  return (await migrationsApplied(db)) ? 'ok' : 'pending';
}

export function serviceReadiness(deps: ReadinessDeps): Readiness {
  return async () => {
    const checks: Record<string, string> = {};

    const redisOk = await check(checks, 'redis', () => redisCheck(deps.redis));
    const postgresOk = await check(checks, 'postgres', () => postgresCheck(deps.db));
    const migrated =
      postgresOk && (await check(checks, 'migrations', () => migrationsCheck(deps.db)));
    const workers = await Promise.all(
      deps.workers.map((worker) =>
        check(checks, `worker:${worker.name}`, () => worker.check()),
      ),
    );
    if (deps.warnings.length > 0) checks.warnings = deps.warnings.join('; ');

    const ready = redisOk && postgresOk && migrated && workers.every(Boolean);
    return { ready, checks };
  };
}
