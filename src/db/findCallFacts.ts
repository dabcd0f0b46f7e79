import type { Knex } from 'knex';
import { arrayParam } from './arrayParam.ts';
import type { User } from '../types.ts';
import type { SettingRow } from './findScopeSettings.ts';

/**
 * Everything the check order reads for several calls, in one query (issue 7): for
 * each, a result an earlier attempt of its job stored, its caller by username
 * (case-insensitive) and its target by id; and the settings of every scope a caller
 * could sign with (its own, its owner's and the global one; the check order picks).
 * Read inside the transaction that stores the results, afresh for every attempt, so a
 * changed setting counts for every call processed after it.
 */

export interface CallFactsQuery {
  jobId: string;
  /** The caller's username; undefined when `u` names no one (blank, invalid text). */
  username: string | undefined;
  /** The target's id; undefined when `user_id` names no one. */
  targetId: bigint | undefined;
}

export interface CallFacts {
  stored: { success: boolean; resultXml: string } | undefined;
  caller: User | undefined;
  target: User | undefined;
  settings: SettingRow[];
}

interface FactRow {
  call_index: number | null;
  kind: 'stored' | 'caller' | 'target' | 'setting';
  id: string | null;
  a: string | null;
  b: string | null;
  c: string | null;
}

// Each row is one fact of one call (call_index counts from 1), its columns meaning
// what its kind says: users id, username, usertype, owner_id; stored success and XML;
// settings (of no one call) scope, name, value.
const FIND_CALL_FACTS = `
  with calls as (
    select call_index::int, job_id, username, target_id
    from unnest(?::uuid[], ?::text[], ?::bigint[])
      with ordinality as given(job_id, username, target_id, call_index)
  ),
  callers as (
    select calls.call_index, found.*
    from calls cross join lateral (
      select id, username, usertype, owner_id from users
      where lower(users.username) = lower(calls.username) limit 1
    ) found
  )
  select call_index, 'stored' as kind, null as id, success::text as a,
      result_xml as b, null as c
    from calls join job_results using (job_id)
    where finished_at > now() - make_interval(hours => ?::int)
  union all
  select call_index, 'caller', id::text, username, usertype, owner_id::text from callers
  union all
  select call_index, 'target', id::text, users.username, usertype, owner_id::text
    from calls join users on users.id = calls.target_id
  union all
  select null, 'setting', scope_owner_id::text, name, value, null from settings
    where scope_owner_id in (
      select id from callers union select owner_id from callers union select 0)`;

function toUser(row: FactRow | undefined): User | undefined {
  if (row === undefined) return undefined;
  return {
    id: BigInt(row.id ?? ''),
    username: row.a ?? '',
    usertype: row.b ?? '',
    ownerId: BigInt(row.c ?? ''),
  };
}

/** The facts of each call, in the order of the queries. */
export async function findCallFacts(
  db: Knex,
  queries: CallFactsQuery[],
  retentionHours: number,
): Promise<CallFacts[]> {
  const bindings: Knex.Value[] = [
    arrayParam(queries.map((query) => query.jobId)),
    arrayParam(queries.map((query) => query.username ?? null)),
    arrayParam(queries.map((query) => query.targetId?.toString() ?? null)),
    retentionHours,
  ];
  const { rows } = await db.raw<{ rows: FactRow[] }>(FIND_CALL_FACTS, bindings);

  const settingsByScope = new Map<string, SettingRow[]>();
  const byCall = queries.map(() => new Map<FactRow['kind'], FactRow>());
  for (const row of rows) {
    if (row.kind === 'setting') {
      const scope = row.id ?? '';
      const setting = { scope_owner_id: scope, name: row.a ?? '', value: row.b ?? '' };
      settingsByScope.set(scope, [...(settingsByScope.get(scope) ?? []), setting]);
    } else {
      byCall[(row.call_index ?? 0) - 1]?.set(row.kind, row);
    }
  }

  return byCall.map((facts) => {
    const stored = facts.get('stored');
    const caller = toUser(facts.get('caller'));
    const scopes = new Set(caller ? [caller.id, caller.ownerId, 0n].map(String) : []);
    return {
      stored: stored && { success: stored.a === 'true', resultXml: stored.b ?? '' },
      caller,
      target: toUser(facts.get('target')),
      settings: [...scopes].flatMap((scope) => settingsByScope.get(scope) ?? []),
    };
  });
}
