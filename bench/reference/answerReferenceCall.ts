import type pg from 'pg';
import {
  fieldText,
  hasSecret,
  mayActFor,
  mayCallApi,
  queuedToBytes,
  scopeOf,
  storableText,
  targetId,
} from '../../src/callRules.ts';
import { PG_ERRORS } from '../../src/db/connect.ts';
import {
  callerSettingsFromRows,
  type SettingRow,
} from '../../src/db/findScopeSettings.ts';
import type { UserRow } from '../../src/db/findUser.ts';
import { computeHash, hashMatches } from '../../src/hash.ts';
import { MOR, type MorText } from '../../src/messages.ts';
import type { HttpMethod, QueuedParams, User } from '../../src/types.ts';
import { validateRecordFields } from '../../src/validate.ts';
import { morXml } from '../../src/xml.ts';

/**
 * The reference's whole call: MOR's check order (../shared/DESIGN.md section 2) in
 * one transaction per request, with plain `pg`, no queue and no stored result. This is
 * what a team would write instead of the service; the bench compares the two. The
 * pure rules (hash, validation, texts, XML, who may act for whom) are the service's
 * own, so the comparison is about the architecture, not the parsing.
 */

const FIND_CALLER =
  'select id, username, usertype, owner_id from users where lower(username) = lower($1) limit 1';
const FIND_TARGET = 'select id, username, usertype, owner_id from users where id = $1';
const FIND_SETTINGS =
  'select scope_owner_id, name, value from settings where scope_owner_id in ($1, 0)';
const INSERT_RECORD =
  'insert into phonebook_records (user_id, number, name, speeddial) values ($1, $2, $3, $4)';

interface Answer {
  text: MorText;
  success: boolean;
}

function toUser(row: UserRow | undefined): User | undefined {
  if (row === undefined) return undefined;
  return {
    id: BigInt(row.id),
    username: row.username,
    usertype: row.usertype,
    ownerId: BigInt(row.owner_id),
  };
}

async function findUser(
  client: pg.PoolClient,
  sql: string,
  value: string,
): Promise<User | undefined> {
  const { rows } = await client.query<UserRow>(sql, [value]);
  return toUser(rows[0]);
}

const refuse = (text: MorText): Answer => ({ text, success: false });

/** Rows 1 to 8 of the check order, then the insert; the caller commits or rolls back. */
async function checkAndInsert(
  client: pg.PoolClient,
  method: HttpMethod,
  params: QueuedParams,
): Promise<Answer> {
  const call = queuedToBytes(params);
  const username = storableText(call.u);
  const caller = username ? await findUser(client, FIND_CALLER, username) : undefined;
  if (caller === undefined) return refuse(MOR.accessDenied);

  const scopeOwnerId = scopeOf(caller);
  const settingRows = await client.query<SettingRow>(FIND_SETTINGS, [
    scopeOwnerId.toString(),
  ]);
  const { scope, allowGetApi } = callerSettingsFromRows(settingRows.rows, scopeOwnerId);
  if (!scope.allowApi) return refuse(MOR.apiDisabled);
  if (method === 'GET' && !allowGetApi) return refuse(MOR.getDisabled);
  if (!scope.disableHashChecking) {
    if (!hasSecret(scope)) return refuse(MOR.secretMissing);
    if (!hashMatches(call.hash, computeHash(call, scope.apiSecretKey))) {
      return refuse(MOR.incorrectHash);
    }
  }
  if (!mayCallApi(caller)) return refuse(MOR.accessDenied);

  const id = targetId(call.user_id);
  const target =
    id === undefined ? undefined : await findUser(client, FIND_TARGET, id.toString());
  if (target === undefined || !mayActFor(caller, target)) return refuse(MOR.userNotFound);

  const fields = {
    name: fieldText(call.name),
    number: fieldText(call.number),
    speeddial: fieldText(call.speeddial),
  };
  const invalid = validateRecordFields(fields);
  if (invalid !== undefined) return refuse(invalid);

  await client.query(INSERT_RECORD, [
    target.id.toString(),
    fields.number.text,
    fields.name.text,
    fields.speeddial.text,
  ]);
  return { text: MOR.recordAdded, success: true };
}

/** Answers one call with its MOR XML; a taken speed dial rolls the transaction back. */
export async function answerReferenceCall(
  pool: pg.Pool,
  method: HttpMethod,
  params: QueuedParams,
): Promise<string> {
  const client = await pool.connect();
  try {
    await client.query('begin');
    const answer = await checkAndInsert(client, method, params);
    await client.query('commit');
    return morXml(answer.text, answer.success);
  } catch (error) {
    await client.query('rollback').catch(() => undefined);
    if ((error as { code?: string }).code !== PG_ERRORS.uniqueViolation) throw error;
    return morXml(MOR.speeddialTaken);
  } finally {
    client.release();
  }
}
