import type { Knex } from 'knex';
import { ConfigError, loadConfig } from '../config.ts';
import { connectDatabase } from '../db/connect.ts';
import { describeDatabaseError } from './describeDatabaseError.ts';
import { CommandError, UsageError } from './errors.ts';

/** Two connections: knex runs a migration and its lock on separate ones. */
const POOL_MAX = 2;

/**
 * knex would print a failed connection's stack trace to the console; every error it
 * raises reaches the command anyway, which says it in one line.
 */
const SILENT_KNEX_LOG: Knex.Logger = {
  warn: () => {},
  error: () => {},
  debug: () => {},
  deprecate: () => {},
};

/** DATABASE_URL as the service reads it, validated the same way. */
function databaseUrlFromEnv(): string {
  try {
    return loadConfig().DATABASE_URL;
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    throw new UsageError(`invalid configuration: ${error.problems.join('; ')}`);
  }
}

/**
 * Runs a step against the database of DATABASE_URL and always closes the connection,
 * so the process exits as soon as the command is done. A database error becomes one
 * clear line (exit code 1); the CLI's own errors pass through unchanged.
 */
export async function withDatabase<T>(
  step: (db: Knex, databaseUrl: string) => Promise<T>,
): Promise<T> {
  const databaseUrl = databaseUrlFromEnv();
  const db = connectDatabase(databaseUrl, POOL_MAX, SILENT_KNEX_LOG);

  try {
    return await step(db, databaseUrl);
  } catch (error) {
    if (error instanceof CommandError || error instanceof UsageError) throw error;
    throw new CommandError(describeDatabaseError(error, databaseUrl), { cause: error });
  } finally {
    await db.destroy();
  }
}
