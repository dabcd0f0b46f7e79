import type { Knex } from 'knex';
import { answerCall, factsQueryOf, type CallAnswer } from './answerCall.ts';
import { queuedToBytes, scopeOf } from './callRules.ts';
import { findCallFacts } from './db/findCallFacts.ts';
import { findDelivery } from './db/findDelivery.ts';
import { findResult } from './db/findResult.ts';
import { isResultConflict, storeResult, type NewDelivery } from './db/storeResult.ts';
import { DELIVERY_REASONS, MOR } from './messages.ts';
import { morXml } from './xml.ts';
import type { CallJobData, QueuedValue } from './types.ts';

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
async function storedCall(
  db: Knex,
  jobId: string,
  stored: { success: boolean; resultXml: string },
): Promise<ProcessedCall> {
  const delivery = await findDelivery(db, jobId);
  return {
    resultXml: stored.resultXml,
    success: stored.success,
    firstAttempt: false,
    deliveryPending: delivery?.state === 'pending',
  };
}

/**
 * Runs one attempt of a job in one transaction of two statements (issue 7): one reads
 * every fact the check order needs, the other stores the record, the result and the
 * delivery row together, keyed by job id, so the effect happens once however often
 * BullMQ runs the job (../shared/DESIGN.md section 4): a later attempt finds the
 * stored result and returns it, and two attempts racing each other leave one record
 * and one result. The transaction is committed by this process, never by the server
 * alone: a worker that lost its connection mid-job leaves nothing behind.
 */
export async function processCall(
  db: Knex,
  jobId: string,
  data: CallJobData,
  retentionHours: number,
): Promise<ProcessedCall> {
  const call = queuedToBytes(data.params);
  try {
    return await db.transaction(async (trx) => {
      const facts = await findCallFacts(trx, {
        jobId,
        retentionHours,
        ...factsQueryOf(call),
      });
      if (facts.stored !== undefined) return storedCall(trx, jobId, facts.stored);

      const answer = answerCall(data.method, call, facts);
      const delivery = newDelivery(jobId, data.params.callback_url, answer);
      const stored = await storeResult(trx, {
        jobId,
        callerUserId: answer.caller?.id,
        acceptedAt: new Date(data.acceptedAtMs),
        record: answer.record,
        success: answer.success,
        resultXml: morXml(answer.answer, answer.success),
        takenXml: morXml(MOR.speeddialTaken),
        delivery,
      });
      return {
        ...stored,
        firstAttempt: true,
        deliveryPending: delivery?.state === 'pending',
      };
    });
  } catch (error) {
    if (!isResultConflict(error)) throw error;

    const stored = await findResult(db, jobId, retentionHours);
    if (stored === undefined) throw new Error('stored result vanished after a conflict');
    return storedCall(db, jobId, stored);
  }
}
