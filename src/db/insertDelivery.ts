import type { Knex } from 'knex';
import type { DeliveryState } from '../types.ts';
import type { WebhookDeliveryRow } from './deliveryRows.ts';

export interface NewDelivery {
  jobId: string;
  state: Extract<DeliveryState, 'pending' | 'skipped' | 'refused'>;
  callbackUrl?: string;
  scopeOwnerId?: bigint;
  reason?: string;
}

/** Writes a job's delivery row; called in the transaction that stores the result. */
export async function insertDelivery(db: Knex, delivery: NewDelivery): Promise<void> {
  await db<WebhookDeliveryRow>('webhook_deliveries').insert({
    job_id: delivery.jobId,
    state: delivery.state,
    callback_url: delivery.callbackUrl ?? null,
    scope_owner_id: delivery.scopeOwnerId?.toString() ?? null,
    reason: delivery.reason ?? null,
  });
}
