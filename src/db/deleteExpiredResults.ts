import type { Knex } from 'knex';

/** Deletes results past the retention period; returns how many went. */
export async function deleteExpiredResults(
  db: Knex,
  retentionHours: number,
): Promise<number> {
  return db('job_results')
    .whereRaw('finished_at <= now() - make_interval(hours => ?)', [retentionHours])
    .delete();
}
