import type { Knex } from 'knex';
import { answerCall, type CallAnswer } from './answerCall.ts';
import { scopeOf } from './callRules.ts';
import { findDelivery } from './db/findDelivery.ts';
import { findResult } from './db/findResult.ts';
import { insertDelivery, type NewDelivery } from './db/insertDelivery.ts';
import { insertResult } from './db/insertResult.ts';
import { DELIVERY_REASONS } from './messages.ts';
import { morXml } from './xml.ts';
import type { CallJobData, QueuedValue, StoredResult } from './types.ts';

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
  /** A webhook of this result is owed: queue its delivery once the transaction committed. */
  deliveryPending: boolean;
}

/**
 * The delivery a call asks for, if any. Only a call whose hash verified (past rows 1
 * to 5) gets one: anyone can send a call, and an unsigned callback_url must not make
 * this service POST anywhere. A URL Postgres cannot hold as text (invalid UTF-8, NUL)
 * is no URL at all.
 */
function newDelivery(
  jobId: string,
  callbackUrl: QueuedValue | undefined,
  call: CallAnswer,
): NewDelivery | undefined {
  if (callbackUrl === undefined) return undefined;
  if (!call.hashPassed || call.caller === undefined) return { jobId, state: 'skipped' };
  if (typeof callbackUrl !== 'string' || callbackUrl.includes('\0')) {
    return { jobId, state: 'refused', reason: DELIVERY_REASONS.urlInvalid };
  }
  return { jobId, state: 'pending', callbackUrl, scopeOwnerId: scopeOf(call.caller) };
}

/** A result an earlier attempt stored, and whether its delivery is still owed. */
async function storedCall(db: Knex, stored: StoredResult): Promise<ProcessedCall> {
  const delivery = await findDelivery(db, stored.jobId);
  return {
    resultXml: stored.resultXml,
    success: stored.success,
    firstAttempt: false,
    deliveryPending: delivery?.state === 'pending',
  };
}

/**
 * Runs one attempt of a job. The record, the result and the delivery row commit in one
 * transaction keyed by job id, so the effect happens once however often BullMQ runs
 * the job (../shared/DESIGN.md section 4): a later attempt finds the stored result and
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
      if (stored !== undefined) return storedCall(trx, stored);

      const call = await answerCall(trx, data.method, data.params);
      const resultXml = morXml(call.answer, call.success);
      const inserted = await insertResult(trx, {
        jobId,
        callerUserId: call.caller?.id,
        success: call.success,
        resultXml,
        acceptedAt: new Date(data.acceptedAtMs),
      });
      if (!inserted) throw new ResultExistsError();

      const delivery = newDelivery(jobId, data.params.callback_url, call);
      if (delivery !== undefined) await insertDelivery(trx, delivery);

      const deliveryPending = delivery?.state === 'pending';
      return { resultXml, success: call.success, firstAttempt: true, deliveryPending };
    });
  } catch (error) {
    if (!(error instanceof ResultExistsError)) throw error;

    const stored = await findResult(db, jobId, retentionHours);
    if (stored === undefined) throw new Error('stored result vanished after a conflict');
    return storedCall(db, stored);
  }
}
