import type { Knex } from 'knex';
import type { DeliveryAttempt } from '../types.ts';
import type { WebhookAttemptRow } from './deliveryRows.ts';

/** Records one attempt of a delivery. */
export async function insertAttempt(
  db: Knex,
  jobId: string,
  attempt: DeliveryAttempt,
): Promise<void> {
  await db<WebhookAttemptRow>('webhook_attempts').insert({
    job_id: jobId,
    attempted_at: attempt.attemptedAt,
    duration_ms: attempt.durationMs,
    status_code: attempt.statusCode,
    error: attempt.error,
  });
}
