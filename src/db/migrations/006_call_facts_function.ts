import type { Knex } from 'knex';

/**
 * `phonebook_call_facts`: the read of findCallFacts (every fact the check order needs
 * for several calls) as a PL/pgSQL function, so each connection plans it once and
 * keeps the plan (issue 7). Sent as a query of its own, it was planned anew for every
 * batch, and planning took two to four times as long as running it: in sync mode,
 * where batches are small, that was a good part of Postgres's time per call.
 *
 * Each row is one fact of one call (call_index counts from 1), its columns meaning
 * what its kind says: users id, username, usertype, owner_id; stored success and XML;
 * settings (of no one call) scope, name, value.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    create function phonebook_call_facts(
      p_job_ids uuid[],
      p_usernames text[],
      p_target_ids bigint[],
      p_retention_hours int)
    returns table (call_index int, kind text, id text, a text, b text, c text)
    language plpgsql stable as $$
    #variable_conflict use_column
    begin
      return query
        with calls as (
          select given.call_index::int, given.job_id, given.username, given.target_id
          from unnest(p_job_ids, p_usernames, p_target_ids)
            with ordinality as given(job_id, username, target_id, call_index)
        ),
        callers as (
          select calls.call_index, found.*
          from calls cross join lateral (
            select users.id, users.username, users.usertype, users.owner_id from users
            where lower(users.username) = lower(calls.username) limit 1
          ) found
        )
        select calls.call_index, 'stored'::text, null::text, job_results.success::text,
            job_results.result_xml, null::text
          from calls join job_results using (job_id)
          where job_results.finished_at > now() - make_interval(hours => p_retention_hours)
        union all
        select callers.call_index, 'caller', callers.id::text, callers.username,
            callers.usertype, callers.owner_id::text
          from callers
        union all
        select calls.call_index, 'target', users.id::text, users.username, users.usertype,
            users.owner_id::text
          from calls join users on users.id = calls.target_id
        union all
        select null::int, 'setting', settings.scope_owner_id::text, settings.name,
            settings.value, null::text
          from settings
          where settings.scope_owner_id in (
            select callers.id from callers
            union select callers.owner_id from callers
            union select 0);
    end
    $$`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('drop function phonebook_call_facts');
}
