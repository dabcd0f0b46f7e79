import type { Knex } from 'knex';
import type { Delivery } from '../types.ts';

/** A job's delivery with the result it sends, or undefined when the job has none. */
export async function findDelivery(
  db: Knex,
  jobId: string,
): Promise<Delivery | undefined> {
  const row = await db('webhook_deliveries as d')
    .join('job_results as r', 'r.job_id', 'd.job_id')
    .select('d.state', 'd.callback_url', 'd.scope_owner_id', 'r.result_xml')
    .where('d.job_id', jobId)
    .first();
  if (row === undefined) return undefined;

  return {
    jobId,
    state: row.state,
    callbackUrl: row.callback_url,
    scopeOwnerId: row.scope_owner_id === null ? null : BigInt(row.scope_owner_id),
    resultXml: row.result_xml,
  };
}
