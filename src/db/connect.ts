import knex, { type Knex } from 'knex';
import pg from 'pg';
import * as schema from './migrations/001_schema.ts';
import * as idempotencyKeys from './migrations/002_idempotency_keys.ts';
import * as webhookDeliveries from './migrations/003_webhook_deliveries.ts';
import * as storeResultFunction from './migrations/004_store_result_function.ts';
import * as storeResultsInBatches from './migrations/005_store_results_in_batches.ts';

/** Postgres error codes (SQLSTATE, PostgreSQL manual appendix A) this code acts on. */
export const PG_ERRORS = {
  uniqueViolation: '23505',
  duplicateDatabase: '42P04',
} as const;

const MIGRATIONS: Record<string, Knex.Migration> = {
  '001_schema': schema,
  '002_idempotency_keys': idempotencyKeys,
  '003_webhook_deliveries': webhookDeliveries,
  '004_store_result_function': storeResultFunction,
  '005_store_results_in_batches': storeResultsInBatches,
};

export const MIGRATION_NAMES = Object.keys(MIGRATIONS);

/** Migrations are compiled in, so they run the same from any working directory. */
const migrationSource: Knex.MigrationSource<string> = {
  getMigrations: async () => Object.keys(MIGRATIONS),
  getMigrationName: (name) => name,
  getMigration: async (name) => MIGRATIONS[name] as Knex.Migration,
};

export const MIGRATION_CONFIG: Knex.MigratorConfig = { migrationSource };

/**
 * `log` replaces knex's own logger, which prints to the console (a failed connection
 * with its stack trace, for one); without it knex's default is used.
 */
export function connectDatabase(
  databaseUrl: string,
  poolMax: number,
  log?: Knex.Logger,
): Knex {
  return knex({
    client: 'pg',
    connection: { connectionString: databaseUrl, application_name: 'phonebook' },
    pool: { min: 0, max: poolMax },
    acquireConnectionTimeout: 10_000,
    log,
  });
}

/** Creates the database named by the URL when it is missing (a race with another creator is fine). */
export async function ensureDatabase(databaseUrl: string): Promise<void> {
  const url = new URL(databaseUrl);
  const name = decodeURIComponent(url.pathname.slice(1));
  url.pathname = '/postgres';

  const client = new pg.Client({ connectionString: url.toString() });
  await client.connect();
  try {
    const found = await client.query('select 1 from pg_database where datname = $1', [
      name,
    ]);
    if (found.rowCount === 0) {
      await client.query(`create database ${pg.escapeIdentifier(name)}`);
    }
  } catch (error) {
    if ((error as { code?: string }).code !== PG_ERRORS.duplicateDatabase) throw error;
  } finally {
    await client.end();
  }
}

export async function migrateLatest(db: Knex): Promise<void> {
  await db.migrate.latest(MIGRATION_CONFIG);
}

/** True when every compiled-in migration has run. */
export async function migrationsApplied(db: Knex): Promise<boolean> {
  const [, pending] = (await db.migrate.list(MIGRATION_CONFIG)) as [unknown[], unknown[]];
  return pending.length === 0;
}
