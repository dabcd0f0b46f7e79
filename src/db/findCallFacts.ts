import type { Knex } from 'knex';
import { arrayParam } from './arrayParam.ts';
import type { User } from '../types.ts';
import type { SettingRow } from './findScopeSettings.ts';

/**
 * Everything the check order reads for several calls, in one statement (issue 7): for
 * each, a result an earlier attempt of its job stored, its caller by username
 * (case-insensitive) and its target by id; and the settings of every scope a caller
 * could sign with (its own, its owner's and the global one; the check order picks).
 * Read just before the statement that stores the results, afresh for every attempt, so
 * a changed setting counts for every call processed after it.
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

// One call of the function of migration 006, which holds the query and the meaning of
// each row's columns.
const FIND_CALL_FACTS =
  'select call_index, kind, id, a, b, c from phonebook_call_facts(' +
  '?::uuid[], ?::text[], ?::bigint[], ?::int)';

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
