import type { Knex } from 'knex';
import * as storeResultFunction from './004_store_result_function.ts';

/**
 * `phonebook_store_results`: the writes of several jobs in one statement, so a worker
 * stores the jobs it runs at once in one transaction (issue 7). It replaces the one-job
 * `phonebook_store_result` of 004 and does, for each job in the order given, what that
 * did, inside an exception block of its own (a subtransaction, as a savepoint is):
 * - the record, when the call got that far. A user's record that repeats a speed dial
 *   of that user is not inserted (`on conflict do nothing` on the unique index); a
 *   Global record that repeats any speed dial is refused by the trigger of 001, whose
 *   unique violation an inner exception block catches. Either way the answer stored
 *   becomes the taken text;
 * - the result, keyed by job id. When another attempt of the same job stored one
 *   first, its primary key is violated and this job's block rolls back, record
 *   included: its outcome is `exists`, and the caller reads the stored result;
 * - the delivery row, when a webhook is due or was refused.
 *
 * Callers sort the jobs by speed dial and user, so concurrent batches wait for each
 * other's records in one order. A job enters at most two subtransactions (its own, and
 * a Global record's), and a batch holds at most 32 jobs, so a transaction never has
 * more than 64: past that number a backend stops caching them and every snapshot
 * taken elsewhere gets slower.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw('drop function phonebook_store_result');
  await knex.raw(`
    create function phonebook_store_results(
      p_job_ids uuid[],
      p_caller_user_ids bigint[],
      p_accepted_at timestamptz[],
      p_record_user_ids bigint[],
      p_record_numbers text[],
      p_record_names text[],
      p_record_speeddials text[],
      p_result_successes boolean[],
      p_result_xmls text[],
      p_taken_xml text,
      p_delivery_states text[],
      p_delivery_callback_urls text[],
      p_delivery_scope_owner_ids bigint[],
      p_delivery_reasons text[])
    returns table (call_index int, outcome text, stored_success boolean, stored_xml text)
    language plpgsql as $$
    declare
      taken boolean;
      violated text;
    begin
      for i in 1 .. coalesce(array_length(p_job_ids, 1), 0) loop
        call_index := i;
        outcome := 'stored';
        stored_success := p_result_successes[i];
        stored_xml := p_result_xmls[i];
        begin
          if p_record_user_ids[i] = 0 then
            begin
              insert into phonebook_records (user_id, number, name, speeddial)
                values (0, p_record_numbers[i], p_record_names[i], p_record_speeddials[i]);
              taken := false;
            exception when unique_violation then
              taken := true;
            end;
          elsif p_record_user_ids[i] is not null then
            insert into phonebook_records (user_id, number, name, speeddial)
              values (p_record_user_ids[i], p_record_numbers[i], p_record_names[i],
                p_record_speeddials[i])
              on conflict (user_id, speeddial) do nothing;
            taken := not found;
          else
            taken := false;
          end if;
          if taken then
            stored_success := false;
            stored_xml := p_taken_xml;
          end if;

          insert into job_results (job_id, caller_user_id, success, result_xml, accepted_at)
            values (p_job_ids[i], p_caller_user_ids[i], stored_success, stored_xml,
              p_accepted_at[i]);

          if p_delivery_states[i] is not null then
            insert into webhook_deliveries (job_id, state, callback_url, scope_owner_id,
                reason)
              values (p_job_ids[i], p_delivery_states[i], p_delivery_callback_urls[i],
                p_delivery_scope_owner_ids[i], p_delivery_reasons[i]);
          end if;
        exception when unique_violation then
          get stacked diagnostics violated = constraint_name;
          if violated <> 'job_results_pkey' then
            raise;
          end if;
          outcome := 'exists';
          stored_success := null;
          stored_xml := null;
        end;
        return next;
      end loop;
    end
    $$`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('drop function phonebook_store_results');
  await storeResultFunction.up(knex);
}
