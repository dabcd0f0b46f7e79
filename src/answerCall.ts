import {
  fieldText,
  hasSecret,
  mayActFor,
  mayCallApi,
  scopeOf,
  storableText,
  targetId,
} from './callRules.ts';
import type { CallFacts, CallFactsQuery } from './db/findCallFacts.ts';
import { callerSettingsFromRows } from './db/findScopeSettings.ts';
import { computeHash, hashMatches, type CallBytes } from './hash.ts';
import { MOR, type MorText } from './messages.ts';
import type { HttpMethod, NewRecord, User } from './types.ts';
import { validateRecordFields } from './validate.ts';

/**
 * MOR's order of checks for `phonebook_record_create` (../shared/DESIGN.md section 2):
 * the first check that fails answers. The facts it reads (caller, target, settings)
 * are read in one query just before (findCallFacts); the last check, uniqueness, is
 * the database's when the record is stored (storeResult).
 */

export interface CallAnswer {
  answer: MorText;
  success: boolean;
  caller: User | undefined;
  /** The call got past rows 1 to 5 (caller, API rights, GET, secret, hash). */
  hashPassed: boolean;
  /** The record to store, when the call passed every check but uniqueness. */
  record: NewRecord | undefined;
}

/** What to look up for a call: its caller's username and its target's id. */
export function factsQueryOf(
  call: CallBytes,
): Pick<CallFactsQuery, 'username' | 'targetId'> {
  return {
    username: storableText(call.u) || undefined,
    targetId: targetId(call.user_id),
  };
}

export function answerCall(
  method: HttpMethod,
  call: CallBytes,
  facts: CallFacts,
): CallAnswer {
  const refuse = (answer: MorText, caller?: User): CallAnswer => ({
    answer,
    success: false,
    caller,
    hashPassed: false,
    record: undefined,
  });

  const { caller } = facts;
  if (caller === undefined) return refuse(MOR.accessDenied);

  const settings = callerSettingsFromRows(facts.settings, scopeOf(caller));
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
    record: undefined,
  });

  if (!mayCallApi(caller)) return answerError(MOR.accessDenied);

  const { target } = facts;
  if (target === undefined || !mayActFor(caller, target)) {
    return answerError(MOR.userNotFound);
  }

  const fields = {
    name: fieldText(call.name),
    number: fieldText(call.number),
    speeddial: fieldText(call.speeddial),
  };
  const invalid = validateRecordFields(fields);
  if (invalid !== undefined) return answerError(invalid);

  return {
    answer: MOR.recordAdded,
    success: true,
    caller,
    hashPassed: true,
    record: {
      userId: target.id,
      name: fields.name.text,
      number: fields.number.text,
      speeddial: fields.speeddial.text,
    },
  };
}
