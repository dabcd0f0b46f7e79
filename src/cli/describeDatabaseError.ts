import { errorFacts } from '../log.ts';

/**
 * One line for an error of a database step. It names the server and database from
 * DATABASE_URL (never its user or password) and the error's class or SQLSTATE, never
 * the error's message: that can quote the values of a statement.
 */

/** SQLSTATE codes (PostgreSQL manual, appendix A) with an operator's next step. */
const SQLSTATE_TEXTS: Record<string, (where: Place) => string> = {
  // invalid_catalog_name: the database named by the URL is missing
  '3D000': (at) =>
    `database ${at.database} does not exist; run "phonebook migrate" first`,
  // undefined_table: the database exists, the migrations have not run
  '42P01': (at) => `database ${at.database} has no tables; run "phonebook migrate" first`,
  // invalid_password
  '28P01': (at) => `Postgres at ${at.server} refused the password`,
  // invalid_authorization_specification: no such role, or pg_hba.conf refuses it
  '28000': (at) => `Postgres at ${at.server} refused the login`,
  // insufficient_privilege
  '42501': (at) => `the database user may not do this in ${at.database}`,
  // cannot_connect_now
  '57P03': (at) => `Postgres at ${at.server} is starting up; try again`,
  // too_many_connections
  '53300': (at) => `Postgres at ${at.server} has no free connection; try again`,
};

/**
 * Node socket and DNS errors that mean Postgres could not be reached at all. The
 * service keeps its own list of retryable ones (src/errors.ts); importing it here
 * would load the queue library into every CLI start.
 */
const UNREACHABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
]);

interface Place {
  server: string;
  database: string;
}

function placeOf(databaseUrl: string): Place {
  const url = new URL(databaseUrl);
  return {
    server: `${url.hostname}:${url.port || '5432'}`,
    database: decodeURIComponent(url.pathname.slice(1)),
  };
}

export function describeDatabaseError(error: unknown, databaseUrl: string): string {
  const { name, code } = errorFacts(error);
  const at = placeOf(databaseUrl);

  if (code !== undefined && UNREACHABLE_CODES.has(code)) {
    return `cannot reach Postgres at ${at.server} (${code})`;
  }
  if (name === 'KnexTimeoutError') {
    return `timed out waiting for a connection to Postgres at ${at.server}`;
  }

  const text = code === undefined ? undefined : SQLSTATE_TEXTS[code];
  if (text !== undefined) return text(at);
  if (code !== undefined) return `database error in ${at.database} (SQLSTATE ${code})`;
  return `database step failed in ${at.database} (${name})`;
}
