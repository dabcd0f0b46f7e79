import type { Knex } from 'knex';
import type { JobResultRow } from './jobResultRow.ts';

/** The stored results of several jobs at once, by job id. */
export async function findResults(
  db: Knex,
  jobIds: string[],
): Promise<Map<string, string>> {
  if (jobIds.length === 0) return new Map();

  const rows = await db<JobResultRow>('job_results')
    .select('job_id', 'result_xml')
    .whereIn('job_id', jobIds);
  return new Map(rows.map((row) => [row.job_id, row.result_xml]));
}
