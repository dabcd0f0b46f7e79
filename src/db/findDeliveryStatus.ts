import type { Knex } from 'knex';
import type { DeliveryStatus } from '../types.ts';
import type { WebhookAttemptRow, WebhookDeliveryRow } from './deliveryRows.ts';

/** A job's delivery state and every attempt, oldest first; undefined when it has none. */
export async function findDeliveryStatus(
  db: Knex,
  jobId: string,
): Promise<DeliveryStatus | undefined> {
  const delivery = await db<WebhookDeliveryRow>('webhook_deliveries')
    .select('state', 'reason')
    .where('job_id', jobId)
    .first();
  if (delivery === undefined) return undefined;

  const attempts = await db<WebhookAttemptRow>('webhook_attempts')
    .select('attempted_at', 'duration_ms', 'status_code', 'error')
    .where('job_id', jobId)
    .orderBy('id');

  return {
    state: delivery.state,
    reason: delivery.reason,
    attempts: attempts.map((row) => ({
      attemptedAt: row.attempted_at,
      durationMs: row.duration_ms,
      statusCode: row.status_code,
      error: row.error,
    })),
  };
}
