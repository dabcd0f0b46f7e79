import type { Knex } from 'knex';
import { answerCall, factsQueryOf, type CallAnswer } from './answerCall.ts';
import { queuedToBytes, scopeOf } from './callRules.ts';
import { findCallFacts } from './db/findCallFacts.ts';
import { findDelivery } from './db/findDelivery.ts';
import { findResult } from './db/findResult.ts';
import { storeResults, type NewDelivery, type NewResult } from './db/storeResults.ts';
import { DELIVERY_REASONS, MOR } from './messages.ts';
import { morXml } from './xml.ts';
import type { CallJobData, QueuedValue } from './types.ts';

type StoredResult = { success: boolean; resultXml: string };

export interface ProcessedCall {
  resultXml: string;
  success: boolean;
  /** False when an earlier attempt of this job had stored the result. */
  firstAttempt: boolean;
  /** A webhook of this result is owed: queue its delivery once the transaction committed. */
  deliveryPending: boolean;
}

/** One attempt of a job to run: its id and its data. */
export interface CallJob {
  jobId: string;
  data: CallJobData;
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
  stored: StoredResult,
): Promise<ProcessedCall> {
  const delivery = await findDelivery(db, jobId);
  return {
    resultXml: stored.resultXml,
    success: stored.success,
    firstAttempt: false,
    deliveryPending: delivery?.state === 'pending',
  };
}

/** The result another attempt stored while this one was about to. */
async function raceLost(
  db: Knex,
  jobId: string,
  retentionHours: number,
): Promise<ProcessedCall> {
  const stored = await findResult(db, jobId, retentionHours);
  if (stored === undefined) throw new Error('stored result vanished after a conflict');
  return storedCall(db, jobId, stored);
}

/** The result to store for a call that has none yet. */
function newResult({ jobId, data }: CallJob, answer: CallAnswer): NewResult {
  return {
    jobId,
    callerUserId: answer.caller?.id,
    acceptedAt: new Date(data.acceptedAtMs),
    record: answer.record,
    success: answer.success,
    resultXml: morXml(answer.answer, answer.success),
    delivery: newDelivery(jobId, data.params.callback_url, answer),
  };
}

/**
 * Jobs that insert records go in speed dial then user order, so two transactions
 * that insert the same speed dials wait for each other in one order, never in a
 * circle; jobs without a record go first.
 */
function lockOrder(a: NewResult, b: NewResult): number {
  const key = (result: NewResult) =>
    result.record === undefined
      ? ''
      : `${result.record.speeddial}\u0000${result.record.userId.toString().padStart(20, '0')}`;
  return key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0;
}

/**
 * Runs one attempt of each job in two statements (issue 7): one reads every fact the
 * check order needs for every call, the other stores each job's record, result and
 * delivery row together, keyed by job id. The second is a transaction of its own (a
 * statement is one), with each job in a subtransaction, so a job's record and result
 * are stored together or not at all (../shared/DESIGN.md section 4); no explicit
 * transaction wraps the two, as Postgres's read-committed statements would each see
 * the data afresh in one anyway, and leaving out BEGIN and COMMIT saves two of four
 * round trips per batch. The effect of a job happens once however often BullMQ runs
 * it: an attempt that finds a stored result returns it, and two attempts racing each
 * other leave one record and one result (the second finds the first's job id taken).
 * Answers come back in the order of the jobs.
 */
export async function processCalls(
  db: Knex,
  jobs: CallJob[],
  retentionHours: number,
): Promise<ProcessedCall[]> {
  const calls = jobs.map((job) => queuedToBytes(job.data.params));
  const queries = jobs.map((job, index) => ({
    jobId: job.jobId,
    ...factsQueryOf(calls[index]!),
  }));
  const facts = await findCallFacts(db, queries, retentionHours);

  const answers = new Array<Promise<ProcessedCall>>(jobs.length);
  const rerun: Array<{ index: number; stored: StoredResult }> = [];
  const fresh: Array<{ index: number; result: NewResult }> = [];
  jobs.forEach((job, index) => {
    const found = facts[index]!;
    if (found.stored !== undefined) {
      rerun.push({ index, stored: found.stored });
    } else {
      const answer = answerCall(job.data.method, calls[index]!, found);
      fresh.push({ index, result: newResult(job, answer) });
    }
  });

  fresh.sort((a, b) => lockOrder(a.result, b.result));
  const outcomes = await storeResults(
    db,
    fresh.map(({ result }) => result),
    morXml(MOR.speeddialTaken),
  );
  // Reads start once the writes are done, so no read is left running (or rejecting
  // unseen) when the writes fail.
  fresh.forEach(({ index, result }, position) => {
    const outcome = outcomes[position];
    answers[index] =
      outcome?.kind === 'stored'
        ? Promise.resolve({
            resultXml: outcome.resultXml,
            success: outcome.success,
            firstAttempt: true,
            deliveryPending: result.delivery?.state === 'pending',
          })
        : raceLost(db, result.jobId, retentionHours);
  });
  for (const { index, stored } of rerun) {
    answers[index] = storedCall(db, jobs[index]!.jobId, stored);
  }
  return Promise.all(answers);
}

/** Runs one attempt of one job (see processCalls). */
export async function processCall(
  db: Knex,
  jobId: string,
  data: CallJobData,
  retentionHours: number,
): Promise<ProcessedCall> {
  const [processed] = await processCalls(db, [{ jobId, data }], retentionHours);
  return processed!;
}
