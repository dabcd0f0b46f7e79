import type { Knex } from 'knex';
import { findScopeSettings } from './db/findScopeSettings.ts';
import { findUserById, findUserByUsername } from './db/findUser.ts';
import { insertRecord } from './db/insertRecord.ts';
import { hashMatches, computeHash, type CallBytes } from './hash.ts';
import { MOR, type MorText } from './messages.ts';
import type {
  CallParamName,
  HttpMethod,
  QueuedParams,
  ScopeSettings,
  User,
} from './types.ts';
import { validateRecordFields, type FieldText } from './validate.ts';

/**
 * MOR's order of checks for `phonebook_record_create` (../shared/DESIGN.md section 2):
 * the first check that fails answers. Runs inside the job's transaction, so the record
 * it may insert commits together with the stored result.
 */

export interface CallAnswer {
  answer: MorText;
  success: boolean;
  caller: User | undefined;
  /** The call got past rows 1 to 5 (caller, API rights, GET, secret, hash). */
  hashPassed: boolean;
}

const MAX_BIGINT = 2n ** 63n - 1n;
const ASCII_DIGITS = /^[0-9]+$/;
const BLANK = /^\s*$/;
const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

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
function storableText(value: Buffer | undefined): string | undefined {
  if (value === undefined || value.includes(0)) return undefined;
  return decodeStrict(value);
}

/** A missing field counts as empty; invalid UTF-8 is decoded leniently and flagged. */
function fieldText(value: Buffer | undefined): FieldText {
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

/** An all-digit `user_id` names a user by its integer value; anything else names none. */
function targetId(value: Buffer | undefined): bigint | undefined {
  const text = value?.toString('latin1') ?? '';
  if (!ASCII_DIGITS.test(text)) return undefined;
  const id = BigInt(text);
  return id <= MAX_BIGINT ? id : undefined;
}

/** Who may act for whom: admin for anyone but accountants, reseller for itself and its users. */
function mayActFor(caller: User, target: User): boolean {
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

async function findTarget(
  trx: Knex.Transaction,
  caller: User,
  userId: Buffer | undefined,
): Promise<User | undefined> {
  const id = targetId(userId);
  if (id === undefined) return undefined;

  const target = await findUserById(trx, id);
  return target !== undefined && mayActFor(caller, target) ? target : undefined;
}

export async function answerCall(
  trx: Knex.Transaction,
  method: HttpMethod,
  params: QueuedParams,
): Promise<CallAnswer> {
  const call = queuedToBytes(params);
  const refuse = (answer: MorText, caller?: User): CallAnswer => ({
    answer,
    success: false,
    caller,
    hashPassed: false,
  });

  const username = storableText(call.u);
  const caller = username ? await findUserByUsername(trx, username) : undefined;
  if (caller === undefined) return refuse(MOR.accessDenied);

  const settings = await findScopeSettings(trx, scopeOf(caller));
  const { scope } = settings;
  if (!scope.allowApi) return refuse(MOR.apiDisabled, caller);
  if (method === 'GET' && !settings.allowGetApi) return refuse(MOR.getDisabled, caller);

  if (!scope.disableHashChecking) {
    if (!hasSecret(scope)) return refuse(MOR.secretMissing, caller);
    if (!hashMatches(call.hash, computeHash(call, scope.apiSecretKey))) {
      return refuse(MOR.incorrectHash, caller);
    }
  }

  // Past the hash: a later error is an answer the caller signed for (a webhook is due).
  const answerError = (answer: MorText): CallAnswer => ({
    answer,
    success: false,
    caller,
    hashPassed: true,
  });

  if (!['admin', 'reseller', 'user'].includes(caller.usertype)) {
    return answerError(MOR.accessDenied);
  }

  const target = await findTarget(trx, caller, call.user_id);
  if (target === undefined) return answerError(MOR.userNotFound);

  const fields = {
    name: fieldText(call.name),
    number: fieldText(call.number),
    speeddial: fieldText(call.speeddial),
  };
  const invalid = validateRecordFields(fields);
  if (invalid !== undefined) return answerError(invalid);

  const inserted = await insertRecord(trx, {
    userId: target.id,
    name: fields.name.text,
    number: fields.number.text,
    speeddial: fields.speeddial.text,
  });
  if (inserted === 'taken') return answerError(MOR.speeddialTaken);

  return { answer: MOR.recordAdded, success: true, caller, hashPassed: true };
}
