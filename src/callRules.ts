import type { CallBytes } from './hash.ts';
import type { CallParamName, QueuedParams, ScopeSettings, User } from './types.ts';
import type { FieldText } from './validate.ts';

/**
 * The pure rules of a call (../shared/DESIGN.md section 2) that need no database:
 * how queued params become bytes and text, whose scope a caller signs with, which
 * user a `user_id` names and who may act for whom. The check order that applies them
 * is answerCall.ts.
 */

const MAX_BIGINT = 2n ** 63n - 1n;
const ASCII_DIGITS = /^[0-9]+$/;
const BLANK = /^\s*$/;
const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** The user types that may call the API at all (row 6 refuses the rest). */
const API_USER_TYPES = new Set(['admin', 'reseller', 'user']);

export function queuedToBytes(params: QueuedParams): CallBytes {
  const bytes: CallBytes = {};
  for (const [name, value] of Object.entries(params)) {
    bytes[name as CallParamName] =
      typeof value === 'string'
        ? Buffer.from(value, 'utf8')
        : Buffer.from(value.invalidUtf8, 'base64');
  }
  return bytes;
}

function decodeStrict(value: Buffer): string | undefined {
  try {
    return strictUtf8.decode(value);
  } catch {
    return undefined;
  }
}

/** Text that Postgres can hold (valid UTF-8, no NUL), or undefined. */
export function storableText(value: Buffer | undefined): string | undefined {
  if (value === undefined || value.includes(0)) return undefined;
  return decodeStrict(value);
}

/** A missing field counts as empty; invalid UTF-8 is decoded leniently and flagged. */
export function fieldText(value: Buffer | undefined): FieldText {
  if (value === undefined) return { text: '', validUtf8: true };
  const text = decodeStrict(value);
  return text === undefined
    ? { text: value.toString('utf8'), validUtf8: false }
    : { text, validUtf8: true };
}

/** Admin and accountants use the global scope, a reseller its own, a user its owner's. */
export function scopeOf(caller: User): bigint {
  if (caller.usertype === 'reseller') return caller.id;
  if (caller.usertype === 'user') return caller.ownerId;
  return 0n;
}

/** A secret of only whitespace is no secret (MOR's `API must have Secret Key`). */
export function hasSecret(scope: ScopeSettings): boolean {
  return !BLANK.test(scope.apiSecretKey);
}

/** Row 6: only the admin, resellers and users may call the API. */
export function mayCallApi(caller: User): boolean {
  return API_USER_TYPES.has(caller.usertype);
}

/** An all-digit `user_id` names a user by its integer value; anything else names none. */
export function targetId(value: Buffer | undefined): bigint | undefined {
  const text = value?.toString('latin1') ?? '';
  if (!ASCII_DIGITS.test(text)) return undefined;
  const id = BigInt(text);
  return id <= MAX_BIGINT ? id : undefined;
}

/** Who may act for whom: admin for anyone but accountants, reseller for itself and its users. */
export function mayActFor(caller: User, target: User): boolean {
  switch (caller.usertype) {
    case 'admin':
      return target.usertype !== 'accountant';
    case 'reseller':
      return (
        target.id === caller.id ||
        (target.ownerId === caller.id && target.usertype === 'user')
      );
    default:
      return target.id === caller.id;
  }
}
