import type { Knex } from 'knex';
import { hasSecret } from './callRules.ts';
import type { Config } from './config.ts';
import { findDelivery } from './db/findDelivery.ts';
import { findScopeSettings } from './db/findScopeSettings.ts';
import { finishDelivery, type FinalDeliveryState } from './db/finishDelivery.ts';
import { insertAttempt } from './db/insertAttempt.ts';
import { DELIVERY_REASONS } from './messages.ts';
import { TimeoutError, withTimeout } from './timeout.ts';
import type { Delivery, DeliveryAttempt, DeliveryState } from './types.ts';
import type { AddressPolicy } from './webhook/addressPolicy.ts';
import {
  resolveCallbackTarget,
  type CallbackTarget,
  type HostLookup,
} from './webhook/callbackTarget.ts';
import { postWebhook, type AttemptOutcome } from './webhook/postWebhook.ts';
import { judgeAttempt } from './webhook/retrySchedule.ts';
import { webhookSignature } from './webhook/signature.ts';
import { XML_TYPE } from './xml.ts';

/**
 * One attempt of a delivery (../shared/DESIGN.md section 3, Webhook): read the row,
 * resolve and judge the address, sign with the scope's secret as it is now, POST the
 * stored result, record the attempt, then end the delivery or ask for a retry.
 */

export interface DeliveryDeps {
  db: Knex;
  config: Config;
  policy: AddressPolicy;
  lookupHost: HostLookup;
}

/** How an attempt went, for the worker's log line and its retry. */
export interface AttemptReport {
  /** The delivery's state after the attempt; `gone` when it has no row any more. */
  state: DeliveryState | 'gone';
  outcome?: AttemptOutcome;
  durationMs?: number;
  retryDelayMs?: number;
}

const USER_AGENT = 'phonebook-webhooks/1';

function signedHeaders(jobId: string, body: Buffer, secret: string) {
  const timestamp = Math.floor(Date.now() / 1000);
  return {
    'content-type': XML_TYPE,
    'user-agent': USER_AGENT,
    'webhook-id': jobId,
    'webhook-timestamp': String(timestamp),
    'webhook-signature': webhookSignature(jobId, timestamp, body, secret),
  };
}

/** Where to connect, a refusal, or the error that ended the attempt before a socket. */
type ResolvedTarget = Exclude<CallbackTarget, { kind: 'unresolved' }> | AttemptOutcome;

async function resolveWithin(
  deps: DeliveryDeps,
  callbackUrl: string,
): Promise<ResolvedTarget> {
  const resolving = resolveCallbackTarget(callbackUrl, deps.policy, deps.lookupHost);
  try {
    const target = await withTimeout(resolving, deps.config.WEBHOOK_TIMEOUT_MS);
    if (target.kind === 'unresolved') return { kind: 'error', errorClass: 'dns' };
    return target;
  } catch (error) {
    if (error instanceof TimeoutError) return { kind: 'error', errorClass: 'timeout' };
    throw error;
  }
}

/** Ends the delivery, recording its last attempt in the same transaction. */
async function endDelivery(
  db: Knex,
  jobId: string,
  state: FinalDeliveryState,
  reason: string | null,
  attempt?: DeliveryAttempt,
): Promise<void> {
  await db.transaction(async (trx) => {
    if (attempt !== undefined) await insertAttempt(trx, jobId, attempt);
    await finishDelivery(trx, jobId, state, reason);
  });
}

function attemptRecord(outcome: AttemptOutcome, startedAt: Date, durationMs: number) {
  return {
    attemptedAt: startedAt,
    durationMs,
    statusCode: outcome.kind === 'response' ? outcome.statusCode : null,
    error: outcome.kind === 'error' ? outcome.errorClass : null,
  };
}

/** Sends, records and judges the attempt of a pending delivery that has a secret. */
async function send(
  deps: DeliveryDeps,
  delivery: Delivery & { callbackUrl: string },
  secret: string,
  attempt: number,
): Promise<AttemptReport> {
  const { db, config } = deps;
  const startedAt = new Date();
  const started = performance.now();

  const target = await resolveWithin(deps, delivery.callbackUrl);
  if (target.kind === 'refused') {
    await endDelivery(db, delivery.jobId, 'refused', target.reason);
    return { state: 'refused' };
  }

  const body = Buffer.from(delivery.resultXml, 'utf8');
  const remainingMs = config.WEBHOOK_TIMEOUT_MS - (performance.now() - started);
  const outcome =
    target.kind === 'connect'
      ? await postWebhook({
          target,
          headers: signedHeaders(delivery.jobId, body, secret),
          body,
          timeoutMs: Math.max(1, Math.round(remainingMs)),
        })
      : target;
  const durationMs = Math.round(performance.now() - started);
  const record = attemptRecord(outcome, startedAt, durationMs);

  const verdict = judgeAttempt(
    outcome,
    attempt,
    {
      backoffMs: config.WEBHOOK_BACKOFF_MS,
      retryAfterCapMs: config.WEBHOOK_RETRY_AFTER_CAP_MS,
    },
    Date.now(),
  );
  if (verdict.kind === 'retry') {
    await insertAttempt(db, delivery.jobId, record);
    return { state: 'pending', outcome, durationMs, retryDelayMs: verdict.delayMs };
  }

  const [state, reason] =
    verdict.kind === 'delivered'
      ? ['delivered' as const, null]
      : ['failed' as const, verdict.reason];
  await endDelivery(db, delivery.jobId, state, reason, record);
  return { state, outcome, durationMs };
}

/**
 * Runs attempt number `attempt` (1 for the first) of a job's delivery. Anything but a
 * pending delivery is left alone, so a job that runs again after the delivery ended
 * (a sweep racing the end, a second run of the create job) sends nothing.
 */
export async function deliverWebhook(
  deps: DeliveryDeps,
  jobId: string,
  attempt: number,
): Promise<AttemptReport> {
  const delivery = await findDelivery(deps.db, jobId);
  if (delivery === undefined) return { state: 'gone' };
  const { callbackUrl, scopeOwnerId } = delivery;
  if (delivery.state !== 'pending' || callbackUrl === null || scopeOwnerId === null) {
    return { state: delivery.state };
  }

  const { scope } = await findScopeSettings(deps.db, scopeOwnerId);
  if (!hasSecret(scope)) {
    await endDelivery(deps.db, jobId, 'failed', DELIVERY_REASONS.noSecret);
    return { state: 'failed' };
  }
  return send(deps, { ...delivery, callbackUrl }, scope.apiSecretKey, attempt);
}
