import type { Knex } from 'knex';

/** Deletes idempotency keys past their retention; returns how many went. */
export async function deleteExpiredIdempotencyKeys(
  db: Knex,
  retentionHours: number,
): Promise<number> {
  return db('idempotency_keys')
    .whereRaw('created_at <= now() - make_interval(hours => ?)', [retentionHours])
    .delete();
}
