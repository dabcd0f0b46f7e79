import { createHash, timingSafeEqual } from 'node:crypto';
import type { CallParamName } from './types.ts';

/**
 * MOR's call signature: SHA-1 over the values of the signed params that are present,
 * in a fixed order, followed by the secret of the caller's scope. The order of params
 * in the request does not matter; `u`, `p` and `hash` are never signed.
 * `callback_url` is this service's own extension, signed last.
 */
export const SIGNED_PARAM_ORDER = [
  'user_id',
  'number',
  'name',
  'speeddial',
  'callback_url',
] as const satisfies readonly CallParamName[];

/** Call params as the exact bytes received. A missing param is undefined. */
export type CallBytes = Partial<Record<CallParamName, Buffer>>;

const HASH_LENGTH = 40;
const ASCII_DIGITS = /^[0-9]*$/;

/**
 * `user_id` signs only when it is all ASCII digits, and then in integer form:
 * `02` signs as `2` and an empty value as `0`. Any other value is left out.
 */
export function signedUserId(value: Buffer | undefined): string | undefined {
  if (value === undefined) return undefined;

  const text = value.toString('latin1');
  if (!ASCII_DIGITS.test(text)) return undefined;

  return BigInt(text === '' ? '0' : text).toString();
}

export function signedString(params: CallBytes, secret: string): Buffer {
  const parts: Buffer[] = [];

  for (const name of SIGNED_PARAM_ORDER) {
    const value = params[name];
    if (value === undefined) continue;

    if (name === 'user_id') {
      const userId = signedUserId(value);
      if (userId !== undefined) parts.push(Buffer.from(userId, 'latin1'));
    } else {
      parts.push(value);
    }
  }

  parts.push(Buffer.from(secret, 'utf8'));
  return Buffer.concat(parts);
}

/** The hash a client must send for these params: lower-case hex SHA-1. */
export function computeHash(params: CallBytes, secret: string): string {
  return createHash('sha1').update(signedString(params, secret)).digest('hex');
}

/**
 * Compares a received hash with the expected one in constant time. A hash counts only
 * when it is 40 characters long; upper- and lower-case hex are both accepted.
 */
export function hashMatches(received: Buffer | undefined, expectedHex: string): boolean {
  if (received === undefined || received.length !== HASH_LENGTH) return false;

  const lowered = Buffer.from(received.toString('latin1').toLowerCase(), 'latin1');
  const expected = Buffer.from(expectedHex, 'latin1');
  return lowered.length === expected.length && timingSafeEqual(lowered, expected);
}
