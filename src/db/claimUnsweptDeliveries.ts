import type { Knex } from 'knex';

/**
 * Claims up to `limit` pending deliveries last queued at least `olderThanMs` ago, and
 * marks them queued now. `skip locked` gives concurrent sweeps of several worker
 * processes disjoint batches.
 */
export async function claimUnsweptDeliveries(
  db: Knex,
  olderThanMs: number,
  limit: number,
): Promise<string[]> {
  const result = await db.raw<{ rows: Array<{ job_id: string }> }>(
    `update webhook_deliveries set swept_at = now()
     where job_id in (
       select job_id from webhook_deliveries
       where state = 'pending'
         and coalesce(swept_at, created_at) <= now() - make_interval(secs => ?)
       order by coalesce(swept_at, created_at)
       limit ?
       for update skip locked)
     returning job_id`,
    [olderThanMs / 1000, limit],
  );
  return result.rows.map((row) => row.job_id);
}
