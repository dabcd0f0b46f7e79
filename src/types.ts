/**
 * Glossary. These words mean one thing each, everywhere in this code base.
 *
 * - request: one HTTP call to a MOR path, as the ingress receives it.
 * - call: the MOR params of a request after decoding (`u`, `hash`, `user_id`, ...).
 *   The password `p` is never part of a call.
 * - job: a call waiting in, or taken from, the BullMQ queue. Its id is a random UUIDv4.
 *   Job states are BullMQ's words: waiting, active, delayed, completed, failed.
 * - attempt: one run of a job by a worker. BullMQ runs a job at least once, so a job
 *   may have several attempts; the effect of a job happens exactly once.
 * - result: the MOR XML answer of a job, stored in Postgres keyed by job id.
 * - record: one phonebook record (owner user, number, name, speed dial).
 * - caller: the user named by `u`, who signs the call.
 * - target: the user named by `user_id`, who will own the record.
 * - scope: where settings live: the global scope (owner 0) or one reseller's scope.
 * - delivery: the webhook of one job's result to the call's `callback_url`. It has the
 *   job's id, runs as a job of its own queue, and each of its attempts is one POST.
 */

/** The params of a call that the worker reads. `p` is dropped before queueing. */
export const CALL_PARAM_NAMES = [
  'u',
  'hash',
  'user_id',
  'number',
  'name',
  'speeddial',
  'callback_url',
] as const;

export type CallParamName = (typeof CALL_PARAM_NAMES)[number];

/**
 * A param value as queued. Text that is valid UTF-8 travels as a string; anything else
 * travels as the base64 of the exact bytes received, so the hash can still be checked
 * over them and the worker can answer with the right MOR error.
 */
export type QueuedValue = string | { invalidUtf8: string };

export type QueuedParams = Partial<Record<CallParamName, QueuedValue>>;

export type HttpMethod = 'GET' | 'POST';

/** The data of a job on the create queue. */
export interface CallJobData {
  method: HttpMethod;
  params: QueuedParams;
  /** Unix milliseconds when the ingress accepted the request. */
  acceptedAtMs: number;
}

/** The data of a job on the create queue once it completed: what BullMQ returns. */
export type CallJobResult = string;

export type UserType = 'admin' | 'reseller' | 'user' | 'accountant';

export const USER_TYPES: readonly UserType[] = [
  'admin',
  'reseller',
  'user',
  'accountant',
];

export interface User {
  id: bigint;
  username: string;
  usertype: string;
  ownerId: bigint;
}

/** The API settings of one scope. A setting with no value is off, or blank. */
export interface ScopeSettings {
  allowApi: boolean;
  apiSecretKey: string;
  disableHashChecking: boolean;
}

export interface NewRecord {
  userId: bigint;
  number: string;
  name: string;
  speeddial: string;
}

/** A result as stored, keyed by job id. */
export interface StoredResult {
  jobId: string;
  success: boolean;
  resultXml: string;
  acceptedAt: Date;
  finishedAt: Date;
}

export type JobState = 'waiting' | 'active' | 'delayed' | 'completed' | 'failed';

/**
 * Where a delivery stands. pending: owed, being attempted; delivered: a 2xx came back;
 * failed: a final answer, or retries spent; refused: the address is not allowed;
 * skipped: no callback is due (the call was refused before its hash verified).
 */
export type DeliveryState = 'pending' | 'delivered' | 'failed' | 'refused' | 'skipped';

/** A delivery as its attempts need it: where to, whose secret, and what to send. */
export interface Delivery {
  jobId: string;
  state: DeliveryState;
  callbackUrl: string | null;
  scopeOwnerId: bigint | null;
  resultXml: string;
}

/** One attempt as recorded: an HTTP status, or the class of error that ended it. */
export interface DeliveryAttempt {
  attemptedAt: Date;
  durationMs: number;
  statusCode: number | null;
  error: string | null;
}

export interface DeliveryStatus {
  state: DeliveryState;
  reason: string | null;
  attempts: DeliveryAttempt[];
}

/** The data of a job on the delivery queue: the create job's id, nothing else. */
export interface DeliveryJobData {
  jobId: string;
}
