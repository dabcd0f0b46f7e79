import type { Knex } from 'knex';
import pg from 'pg';
import { connectDatabase, ensureDatabase, migrateLatest } from '../src/db/connect.ts';
import { seedDemo } from '../src/db/seedDemo.ts';

/**
 * The bench's databases: one fresh database per measured run on the machine's
 * Postgres, migrated with the service's own migrations (so the reference has the very
 * same tables, indexes and trigger) and seeded with the demo data; dropped afterwards.
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

async function adminQuery(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: ADMIN_URL });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
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
