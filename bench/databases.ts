import { randomBytes } from 'node:crypto';
import type { Knex } from 'knex';
import pg from 'pg';
import { connectDatabase, ensureDatabase, migrateLatest } from '../src/db/connect.ts';
import { seedDemo } from '../src/db/seedDemo.ts';
import { leftByGoneRun } from './processes.ts';

/**
 * The bench's databases: one fresh database per measured run on the machine's
 * Postgres, migrated with the service's own migrations (so the reference has the very
 * same tables, indexes and trigger) and seeded with the demo data; dropped afterwards.
 * Each name carries the pid of the bench that made it, so a later run can tell the
 * databases of a killed run from those of a bench still running.
 */

const ADMIN_URL =
  process.env.BENCH_DATABASE_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]']);

/** The bench talks to servers on this machine only. */
export function assertLoopback(url: string): void {
  if (!LOOPBACK_HOSTS.has(new URL(url).hostname)) {
    throw new Error(`the bench only reaches servers on 127.0.0.1, not ${url}`);
  }
}

export function databaseUrl(name: string): string {
  assertLoopback(ADMIN_URL);
  const url = new URL(ADMIN_URL);
  url.pathname = `/${name}`;
  return url.toString();
}

async function adminQuery<Row extends pg.QueryResultRow>(sql: string): Promise<Row[]> {
  assertLoopback(ADMIN_URL);
  const client = new pg.Client({ connectionString: ADMIN_URL });
  await client.connect();
  try {
    return (await client.query<Row>(sql)).rows;
  } finally {
    await client.end();
  }
}

/** `phonebook_bench_<system>_<pid>_<hex>`; the pid is the bench's own. */
const BENCH_DATABASE = /^phonebook_bench_(?:service|reference)_(\d+)_[0-9a-f]+$/;

/** A fresh name for a system's database in this run. */
export function newDatabaseName(system: 'service' | 'reference'): string {
  return `phonebook_bench_${system}_${process.pid}_${randomBytes(3).toString('hex')}`;
}

/** Creates, migrates and seeds a database; returns a small pool on it. */
export async function createDatabase(name: string): Promise<Knex> {
  const url = databaseUrl(name);
  await ensureDatabase(url);
  const db = connectDatabase(url, 2);
  await migrateLatest(db);
  await seedDemo(db);
  return db;
}

export async function dropDatabase(name: string): Promise<void> {
  await adminQuery(`drop database if exists ${pg.escapeIdentifier(name)} with (force)`);
}

/**
 * Drops the databases of bench runs whose process no longer runs: runs killed before
 * they could drop their own. Those of a running bench are kept. Returns the names.
 * The pids are this machine's: a bench in another pid namespace (a container) sharing
 * this Postgres would look gone.
 */
export async function dropLeftoverDatabases(): Promise<string[]> {
  const rows = await adminQuery<{ datname: string }>('select datname from pg_database');
  const leftovers = rows
    .map((row) => row.datname)
    .filter((name) => leftByGoneRun(name, BENCH_DATABASE));
  for (const name of leftovers) await dropDatabase(name);
  return leftovers;
}

async function countOf(db: Knex, table: string): Promise<number> {
  const [row] = await db(table).count<{ count: string }[]>('* as count');
  return Number(row?.count ?? 0);
}

export const countResults = (db: Knex) => countOf(db, 'job_results');
export const countRecords = (db: Knex) => countOf(db, 'phonebook_records');

/** Process ids of the Postgres backends serving a database now (for their CPU time). */
export async function backendPids(db: Knex, name: string): Promise<number[]> {
  const { rows } = await db.raw<{ rows: { pid: number }[] }>(
    'select pid from pg_stat_activity where datname = ? and pid <> pg_backend_pid()',
    [name],
  );
  return rows.map((row) => row.pid);
}

/** The Postgres server's version string (`select version()`). */
export async function postgresVersion(): Promise<string> {
  assertLoopback(ADMIN_URL);
  const client = new pg.Client({ connectionString: ADMIN_URL });
  await client.connect();
  try {
    const { rows } = await client.query<{ version: string }>('select version()');
    return rows[0]?.version ?? 'unknown';
  } finally {
    await client.end();
  }
}
