import { createHash } from 'node:crypto';
import { SERVICE_ERRORS } from '../messages.ts';
import type { HttpMethod, QueuedParams } from '../types.ts';
import { RequestError } from './readCall.ts';

/**
 * `Idempotency-Key` (draft-ietf-httpapi-idempotency-key-header): the first call with a
 * key owns it; every repeat by the same caller gets that call's job and result, and a
 * repeat with other params is refused.
 */

const KEY = /^[\x21-\x7e]{1,255}$/;

/** The key of a request, if it has one; throws for a key that is not a plain token. */
export function readIdempotencyKey(
  header: string | string[] | undefined,
): string | undefined {
  if (header === undefined) return undefined;
  if (typeof header !== 'string' || !KEY.test(header)) {
    throw new RequestError(SERVICE_ERRORS.idempotencyKeyInvalid);
  }
  return header;
}

/**
 * Keys are scoped to the caller, named as usernames match: case-insensitively. The
 * scope is a digest of `u`, so any `u` (a NUL, invalid UTF-8, 60 KB of text) makes a
 * short value Postgres and Redis can hold.
 */
export function callerKey(params: QueuedParams): string {
  const u = params.u ?? '';
  const text = typeof u === 'string' ? u.toLowerCase() : `bytes:${u.invalidUtf8}`;
  return createHash('sha256').update(text).digest('base64url');
}

/**
 * A digest of everything that makes a call this call: its method and every param,
 * with `u` and `hash` in the forms that mean the same call (usernames match
 * case-insensitively; hex hashes are accepted in either case).
 */
export function callFingerprint(method: HttpMethod, params: QueuedParams): string {
  const canonical = { ...params };
  if (typeof canonical.u === 'string') canonical.u = canonical.u.toLowerCase();
  if (typeof canonical.hash === 'string') canonical.hash = canonical.hash.toLowerCase();

  const entries = Object.entries(canonical).sort(([a], [b]) =>
    a < b ? -1 : a > b ? 1 : 0,
  );
  return createHash('sha256')
    .update(JSON.stringify([method, entries]))
    .digest('hex');
}
