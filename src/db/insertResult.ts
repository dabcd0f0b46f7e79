import type { Knex } from 'knex';
import type { JobResultRow } from './jobResultRow.ts';

export interface NewResult {
  jobId: string;
  callerUserId: bigint | undefined;
  success: boolean;
  resultXml: string;
  acceptedAt: Date;
}

/**
 * Stores a job's result. Returns false when a result for this job id exists already
 * (another attempt of the same job won): the caller must then roll back its work.
 */
export async function insertResult(db: Knex, result: NewResult): Promise<boolean> {
  const inserted = await db<JobResultRow>('job_results')
    .insert({
      job_id: result.jobId,
      caller_user_id: result.callerUserId?.toString() ?? null,
      success: result.success,
      result_xml: result.resultXml,
      accepted_at: result.acceptedAt,
    })
    .onConflict('job_id')
    .ignore()
    .returning('job_id');
  return inserted.length === 1;
}
