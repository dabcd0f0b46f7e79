import { DELIVERY_REASONS, formatText } from '../messages.ts';
import type { AttemptOutcome } from './postWebhook.ts';

/**
 * What follows one attempt of a delivery (../shared/DESIGN.md section 3): a 2xx
 * delivers; network errors, DNS failures, timeouts, 5xx and 429 are retried after the
 * schedule's next step; every other answer (3xx, 410, any 4xx) is final. A receiver
 * that asks for more time with Retry-After gets it, up to a cap, so a misbehaving one
 * cannot park a delivery beyond the schedule for ever.
 */

export interface RetrySchedule {
  /** The wait before each retry, in ms; its length is how many retries there are. */
  backoffMs: readonly number[];
  /** The longest wait a Retry-After header can ask for, in ms. */
  retryAfterCapMs: number;
}

export type AttemptVerdict =
  | { kind: 'delivered' }
  | { kind: 'failed'; reason: string }
  | { kind: 'retry'; delayMs: number };

const DELTA_SECONDS = /^\d+$/;

/**
 * Retry-After in ms (RFC 9110 section 10.2.3): delay-seconds, or an HTTP-date. A date
 * in the past asks for no wait; anything unreadable is ignored.
 */
export function retryAfterMs(
  value: string | undefined,
  nowMs: number,
): number | undefined {
  const text = value?.trim() ?? '';
  if (DELTA_SECONDS.test(text)) return Number(text) * 1000;

  const dateMs = /[a-z]/i.test(text) ? Date.parse(text) : NaN;
  return Number.isNaN(dateMs) ? undefined : Math.max(0, dateMs - nowMs);
}

export function isRetryable(outcome: AttemptOutcome): boolean {
  if (outcome.kind === 'error') return true;
  return outcome.statusCode >= 500 || outcome.statusCode === 429;
}

/** How an attempt ended, for a reason text: `HTTP 503`, `timeout`, `dns`, `network`. */
export function describeOutcome(outcome: AttemptOutcome): string {
  return outcome.kind === 'response' ? `HTTP ${outcome.statusCode}` : outcome.errorClass;
}

/** The verdict on attempt number `attempt` (1 for the first) of a delivery. */
export function judgeAttempt(
  outcome: AttemptOutcome,
  attempt: number,
  schedule: RetrySchedule,
  nowMs: number,
): AttemptVerdict {
  if (
    outcome.kind === 'response' &&
    outcome.statusCode >= 200 &&
    outcome.statusCode < 300
  ) {
    return { kind: 'delivered' };
  }
  if (outcome.kind === 'response' && !isRetryable(outcome)) {
    const status = String(outcome.statusCode);
    return { kind: 'failed', reason: formatText(DELIVERY_REASONS.finalAnswer, status) };
  }

  const stepMs = schedule.backoffMs[attempt - 1];
  if (stepMs === undefined) {
    const last = describeOutcome(outcome);
    return { kind: 'failed', reason: formatText(DELIVERY_REASONS.retriesSpent, last) };
  }

  const asked = outcome.kind === 'response' ? retryAfterMs(outcome.retryAfter, nowMs) : 0;
  const delayMs = Math.max(stepMs, Math.min(asked ?? 0, schedule.retryAfterCapMs));
  return { kind: 'retry', delayMs };
}
