import type { Knex } from 'knex';
import { answerCall } from './answerCall.ts';
import { findResult } from './db/findResult.ts';
import { insertResult } from './db/insertResult.ts';
import { morXml } from './xml.ts';
import type { CallJobData } from './types.ts';

/** Thrown inside the transaction when another attempt of the same job stored first. */
class ResultExistsError extends Error {
  constructor() {
    super('a result for this job is stored already');
    this.name = 'ResultExistsError';
  }
}

export interface ProcessedCall {
  resultXml: string;
  success: boolean;
  /** False when an earlier attempt of this job had stored the result. */
  firstAttempt: boolean;
}

/**
 * Runs one attempt of a job. The record and the result commit in one transaction keyed
 * by job id, so the effect happens once however often BullMQ runs the job
 * (../shared/DESIGN.md section 4): a later attempt finds the stored result and
 * returns it, and two attempts racing each other leave one record and one result.
 */
export async function processCall(
  db: Knex,
  jobId: string,
  data: CallJobData,
  retentionHours: number,
): Promise<ProcessedCall> {
  try {
    return await db.transaction(async (trx) => {
      const stored = await findResult(trx, jobId, retentionHours);
      if (stored !== undefined) {
        return {
          resultXml: stored.resultXml,
          success: stored.success,
          firstAttempt: false,
        };
      }

      const { answer, success, caller } = await answerCall(trx, data.method, data.params);
      const resultXml = morXml(answer, success);
      const inserted = await insertResult(trx, {
        jobId,
        callerUserId: caller?.id,
        success,
        resultXml,
        acceptedAt: new Date(data.acceptedAtMs),
      });
      if (!inserted) throw new ResultExistsError();

      return { resultXml, success, firstAttempt: true };
    });
  } catch (error) {
    if (!(error instanceof ResultExistsError)) throw error;

    const stored = await findResult(db, jobId, retentionHours);
    if (stored === undefined) throw new Error('stored result vanished after a conflict');
    return { resultXml: stored.resultXml, success: stored.success, firstAttempt: false };
  }
}
