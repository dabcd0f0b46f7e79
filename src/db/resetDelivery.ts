import type { Knex } from 'knex';
import type { WebhookDeliveryRow } from './deliveryRows.ts';

/**
 * Makes a failed delivery pending again, for an operator's resend. Its attempts stay
 * recorded. Returns false when the job has no failed delivery.
 */
export async function resetDelivery(db: Knex, jobId: string): Promise<boolean> {
  const updated = await db<WebhookDeliveryRow>('webhook_deliveries')
    .where({ job_id: jobId, state: 'failed' })
    .update({
      state: 'pending',
      reason: null,
      finished_at: null,
      swept_at: db.fn.now(),
    });
  return updated === 1;
}
