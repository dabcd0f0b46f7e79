import type { Knex } from 'knex';
import type { DeliveryState } from '../types.ts';
import type { WebhookDeliveryRow } from './deliveryRows.ts';

export type FinalDeliveryState = Exclude<DeliveryState, 'pending' | 'skipped'>;

/**
 * Ends a pending delivery. Only a pending row changes, so an attempt that lost a race
 * (a resend, a second run of the same job) cannot overwrite a newer ending.
 */
export async function finishDelivery(
  db: Knex,
  jobId: string,
  state: FinalDeliveryState,
  reason: string | null,
): Promise<boolean> {
  const updated = await db<WebhookDeliveryRow>('webhook_deliveries')
    .where({ job_id: jobId, state: 'pending' })
    .update({ state, reason, finished_at: db.fn.now() });
  return updated === 1;
}
