import type { Knex } from 'knex';
import type { DeliveryState, NewRecord } from '../types.ts';
import { PG_ERRORS } from './connect.ts';

/**
 * Stores one job's effect in one statement (migration 004): the record when the call
 * got that far, the result keyed by job id, and the delivery row. A taken speed dial
 * turns the answer into `takenXml`; another attempt's stored result makes the whole
 * statement roll back with a unique violation of `job_results_pkey` (see
 * isResultConflict), and the caller reads that result instead.
 */

export interface NewDelivery {
  jobId: string;
  state: Extract<DeliveryState, 'pending' | 'skipped' | 'refused'>;
  callbackUrl?: string;
  scopeOwnerId?: bigint;
  reason?: string;
}

export interface NewResult {
  jobId: string;
  callerUserId: bigint | undefined;
  acceptedAt: Date;
  /** The record to insert, when the call passed every check before uniqueness. */
  record: NewRecord | undefined;
  success: boolean;
  resultXml: string;
  /** The answer stored instead when the record's speed dial is taken. */
  takenXml: string;
  delivery: NewDelivery | undefined;
}

export interface StoredAnswer {
  success: boolean;
  resultXml: string;
}

const STORE_RESULT =
  'select stored_success, stored_xml from phonebook_store_result(' +
  '?::uuid, ?::bigint, ?::timestamptz, ?::bigint, ?::text, ?::text, ?::text, ' +
  '?::boolean, ?::text, ?::text, ?::text, ?::text, ?::bigint, ?::text)';

export async function storeResult(db: Knex, result: NewResult): Promise<StoredAnswer> {
  const { record, delivery } = result;
  const { rows } = await db.raw<{
    rows: { stored_success: boolean; stored_xml: string }[];
  }>(STORE_RESULT, [
    result.jobId,
    result.callerUserId?.toString() ?? null,
    result.acceptedAt,
    record?.userId.toString() ?? null,
    record?.number ?? null,
    record?.name ?? null,
    record?.speeddial ?? null,
    result.success,
    result.resultXml,
    result.takenXml,
    delivery?.state ?? null,
    delivery?.callbackUrl ?? null,
    delivery?.scopeOwnerId?.toString() ?? null,
    delivery?.reason ?? null,
  ]);
  const [row] = rows;
  if (row === undefined) throw new Error('phonebook_store_result returned no row');
  return { success: row.stored_success, resultXml: row.stored_xml };
}

/** True when storing failed because another attempt of the job stored its result first. */
export function isResultConflict(error: unknown): boolean {
  const { code, constraint } = (error ?? {}) as { code?: unknown; constraint?: unknown };
  return code === PG_ERRORS.uniqueViolation && constraint === 'job_results_pkey';
}
