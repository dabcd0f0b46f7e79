import type { Knex } from 'knex';
import type { StoredResult } from '../types.ts';
import type { JobResultRow } from './jobResultRow.ts';

/** A stored result, unless it is older than the retention period. */
export async function findResult(
  db: Knex,
  jobId: string,
  retentionHours: number,
): Promise<StoredResult | undefined> {
  const row = await db<JobResultRow>('job_results')
    .select('job_id', 'success', 'result_xml', 'accepted_at', 'finished_at')
    .where('job_id', jobId)
    .andWhereRaw('finished_at > now() - make_interval(hours => ?)', [retentionHours])
    .first();
  if (row === undefined) return undefined;

  return {
    jobId: row.job_id,
    success: row.success,
    resultXml: row.result_xml,
    acceptedAt: row.accepted_at,
    finishedAt: row.finished_at,
  };
}
