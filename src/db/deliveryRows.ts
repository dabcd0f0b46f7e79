import type { DeliveryState } from '../types.ts';

export interface WebhookDeliveryRow {
  job_id: string;
  state: DeliveryState;
  callback_url: string | null;
  scope_owner_id: string | null;
  reason: string | null;
  created_at: Date;
  swept_at: Date | null;
  finished_at: Date | null;
}

export interface WebhookAttemptRow {
  id: string;
  job_id: string;
  attempted_at: Date;
  duration_ms: number;
  status_code: number | null;
  error: string | null;
}
