import type { Knex } from 'knex';
import { arrayParam } from './arrayParam.ts';
import type { DeliveryState, NewRecord } from '../types.ts';

/**
 * Stores several jobs' effects in one statement (migration 005): for each, the record
 * when the call got that far (a taken speed dial turns the stored answer into
 * `takenXml`), the result keyed by job id and the delivery row. A job whose result
 * another attempt stored first writes nothing and comes back as `exists`.
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
  delivery: NewDelivery | undefined;
}

export type StoreOutcome =
  { kind: 'stored'; success: boolean; resultXml: string } | { kind: 'exists' };

interface OutcomeRow {
  call_index: number;
  outcome: 'stored' | 'exists';
  stored_success: boolean | null;
  stored_xml: string | null;
}

const STORE_RESULTS =
  'select call_index, outcome, stored_success, stored_xml from phonebook_store_results(' +
  '?::uuid[], ?::bigint[], ?::timestamptz[], ?::bigint[], ?::text[], ?::text[], ' +
  '?::text[], ?::boolean[], ?::text[], ?::text, ?::text[], ?::text[], ?::bigint[], ' +
  '?::text[])';

/** Stores the results in the order given; their outcomes come back in that order. */
export async function storeResults(
  db: Knex,
  results: NewResult[],
  takenXml: string,
): Promise<StoreOutcome[]> {
  if (results.length === 0) return [];
  const column = <T>(value: (result: NewResult) => T) => results.map(value);
  const text = (value: bigint | undefined) => value?.toString() ?? null;

  const bindings: Knex.Value[] = [
    arrayParam(column((result) => result.jobId)),
    arrayParam(column((result) => text(result.callerUserId))),
    arrayParam(column((result) => result.acceptedAt)),
    arrayParam(column((result) => text(result.record?.userId))),
    arrayParam(column((result) => result.record?.number ?? null)),
    arrayParam(column((result) => result.record?.name ?? null)),
    arrayParam(column((result) => result.record?.speeddial ?? null)),
    arrayParam(column((result) => result.success)),
    arrayParam(column((result) => result.resultXml)),
    takenXml,
    arrayParam(column((result) => result.delivery?.state ?? null)),
    arrayParam(column((result) => result.delivery?.callbackUrl ?? null)),
    arrayParam(column((result) => text(result.delivery?.scopeOwnerId))),
    arrayParam(column((result) => result.delivery?.reason ?? null)),
  ];
  const { rows } = await db.raw<{ rows: OutcomeRow[] }>(STORE_RESULTS, bindings);

  const outcomes = new Array<StoreOutcome>(results.length);
  for (const row of rows) {
    outcomes[row.call_index - 1] =
      row.outcome === 'exists'
        ? { kind: 'exists' }
        : {
            kind: 'stored',
            success: row.stored_success === true,
            resultXml: row.stored_xml ?? '',
          };
  }
  return outcomes;
}
