import pg from 'pg';
import { buildReference } from './app.ts';

/**
 * The plain synchronous reference as a process of its own, for the bench:
 * `node --import tsx bench/reference/server.ts`. It listens on `127.0.0.1:PORT`, uses
 * the database `DATABASE_URL` names (migrated and seeded by the bench) with a pool
 * of `POOL_SIZE` connections, and stops on SIGTERM.
 */

const databaseUrl = process.env.DATABASE_URL;
if (databaseUrl === undefined) {
  console.error('DATABASE_URL is required');
  process.exit(2);
}

const pool = new pg.Pool({
  connectionString: databaseUrl,
  max: Number(process.env.POOL_SIZE ?? 16),
  application_name: 'phonebook-reference',
});
const app = await buildReference(pool, { maxParams: 1_000, bodyLimitBytes: 65_536 });
const address = await app.listen({
  host: '127.0.0.1',
  port: Number(process.env.PORT ?? 0),
});
console.log(JSON.stringify({ msg: 'reference listening', address }));

process.once('SIGTERM', () => {
  void app
    .close()
    .then(() => pool.end())
    .then(() => process.exit(0));
});
