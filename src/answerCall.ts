import type { Knex } from 'knex';
import { findScopeSettings } from './db/findScopeSettings.ts';
import { findUserById, findUserByUsername } from './db/findUser.ts';
import { insertRecord } from './db/insertRecord.ts';
import {
  fieldText,
  hasSecret,
  mayActFor,
  mayCallApi,
  queuedToBytes,
  scopeOf,
  storableText,
  targetId,
} from './callRules.ts';
import { hashMatches, computeHash } from './hash.ts';
import { MOR, type MorText } from './messages.ts';
import type { HttpMethod, QueuedParams, User } from './types.ts';
import { validateRecordFields } from './validate.ts';

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

  if (!mayCallApi(caller)) return answerError(MOR.accessDenied);

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
