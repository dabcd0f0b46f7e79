import type { Knex } from 'knex';

export interface IdempotencyKeyRow {
  caller: string;
  key: string;
  fingerprint: string;
  job_id: string;
  created_at: Date;
}

export interface KeyClaim {
  caller: string;
  key: string;
  fingerprint: string;
  jobId: string;
}

/** The key's job: ours when the key was new, the first call's when it was not. */
export type ClaimedKey =
  | { kind: 'new'; jobId: string }
  | { kind: 'repeat'; jobId: string }
  | { kind: 'mismatch' };

/**
 * Claims an idempotency key for a job in one statement; a concurrent claim of the same
 * key waits for the first to commit, so exactly one call owns the key. A key past its
 * retention is replaced as if it were new.
 */
export async function claimIdempotencyKey(
  db: Knex,
  claim: KeyClaim,
  retentionHours: number,
): Promise<ClaimedKey> {
  const result = await db.raw<{
    rows: Array<Pick<IdempotencyKeyRow, 'fingerprint' | 'job_id'> & { fresh: boolean }>;
  }>(
    `insert into idempotency_keys (caller, key, fingerprint, job_id)
     values (?, ?, ?, ?)
     on conflict (caller, key) do update
       set fingerprint = excluded.fingerprint, job_id = excluded.job_id, created_at = now()
       where idempotency_keys.created_at <= now() - make_interval(hours => ?)
     returning fingerprint, job_id, true as fresh`,
    [claim.caller, claim.key, claim.fingerprint, claim.jobId, retentionHours],
  );
  if (result.rows.length === 1) return { kind: 'new', jobId: claim.jobId };

  const existing = await db<IdempotencyKeyRow>('idempotency_keys')
    .select('fingerprint', 'job_id')
    .where({ caller: claim.caller, key: claim.key })
    .first();
  if (existing === undefined)
    throw new Error('idempotency key vanished after a conflict');

  return existing.fingerprint === claim.fingerprint
    ? { kind: 'repeat', jobId: existing.job_id }
    : { kind: 'mismatch' };
}
