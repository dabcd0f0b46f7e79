import type { Knex } from 'knex';
import type { User } from '../types.ts';
import type { SettingRow } from './findScopeSettings.ts';

/**
 * Everything the check order reads, in one query (one round trip, issue 7): a result
 * an earlier attempt of the job stored, the caller by username (case-insensitive),
 * the target by id, and the settings of every scope the caller could sign with (its
 * own, its owner's and the global one; the check order picks). Read afresh for every
 * attempt, so a changed setting counts for every call processed after it.
 */

export interface CallFactsQuery {
  jobId: string;
  retentionHours: number;
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
  kind: 'stored' | 'caller' | 'target' | 'setting';
  id: string | null;
  a: string | null;
  b: string | null;
  c: string | null;
}

// Each row is one fact; its columns mean what its kind says (users: id, username,
// usertype, owner_id; settings: scope, name, value; stored: success, XML).
const FIND_CALL_FACTS = `
  with caller as (
    select id, username, usertype, owner_id from users
    where lower(username) = lower(?::text) limit 1
  )
  select 'stored' as kind, null as id, success::text as a, result_xml as b, null as c
    from job_results
    where job_id = ?::uuid and finished_at > now() - make_interval(hours => ?::int)
  union all
  select 'caller', id::text, username, usertype, owner_id::text from caller
  union all
  select 'target', id::text, username, usertype, owner_id::text from users
    where id = ?::bigint
  union all
  select 'setting', scope_owner_id::text, name, value, null from settings
    where scope_owner_id in (
      select id from caller union all select owner_id from caller union all select 0)`;

function toUser(row: FactRow | undefined): User | undefined {
  if (row === undefined) return undefined;
  return {
    id: BigInt(row.id ?? ''),
    username: row.a ?? '',
    usertype: row.b ?? '',
    ownerId: BigInt(row.c ?? ''),
  };
}

export async function findCallFacts(db: Knex, query: CallFactsQuery): Promise<CallFacts> {
  const { rows } = await db.raw<{ rows: FactRow[] }>(FIND_CALL_FACTS, [
    query.username ?? null,
    query.jobId,
    query.retentionHours,
    query.targetId?.toString() ?? null,
  ]);
  const stored = rows.find((row) => row.kind === 'stored');
  return {
    stored: stored && { success: stored.a === 'true', resultXml: stored.b ?? '' },
    caller: toUser(rows.find((row) => row.kind === 'caller')),
    target: toUser(rows.find((row) => row.kind === 'target')),
    settings: rows
      .filter((row) => row.kind === 'setting')
      .map((row) => ({
        scope_owner_id: row.id ?? '',
        name: row.a ?? '',
        value: row.b ?? '',
      })),
  };
}
