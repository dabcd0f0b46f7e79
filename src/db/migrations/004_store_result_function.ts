import type { Knex } from 'knex';

/**
 * `phonebook_store_result`: one job's writes in one statement, so the worker stores a
 * job with a single round trip (issue 7) instead of a transaction of several. In
 * order, within the statement's own transaction:
 * - the record, when the call got that far; a unique violation of either speed dial
 *   rule (the index, or the Global trigger of 001) rolls back the record alone (the
 *   exception block is a subtransaction, as the savepoint before it was) and the
 *   answer becomes the taken text the caller passed;
 * - the result, keyed by job id. When another attempt of the same job stored first,
 *   its primary key is violated and the whole statement rolls back, record included:
 *   the caller then reads the stored result (../shared/DESIGN.md section 4);
 * - the delivery row, when a webhook is due or was refused.
 * It returns the answer stored.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    create function phonebook_store_result(
      p_job_id uuid,
      p_caller_user_id bigint,
      p_accepted_at timestamptz,
      p_record_user_id bigint,
      p_record_number text,
      p_record_name text,
      p_record_speeddial text,
      p_result_success boolean,
      p_result_xml text,
      p_taken_xml text,
      p_delivery_state text,
      p_delivery_callback_url text,
      p_delivery_scope_owner_id bigint,
      p_delivery_reason text,
      out stored_success boolean,
      out stored_xml text)
    language plpgsql as $$
    begin
      stored_success := p_result_success;
      stored_xml := p_result_xml;
      if p_record_user_id is not null then
        begin
          insert into phonebook_records (user_id, number, name, speeddial)
            values (p_record_user_id, p_record_number, p_record_name, p_record_speeddial);
        exception when unique_violation then
          stored_success := false;
          stored_xml := p_taken_xml;
        end;
      end if;

      insert into job_results (job_id, caller_user_id, success, result_xml, accepted_at)
        values (p_job_id, p_caller_user_id, stored_success, stored_xml, p_accepted_at);

      if p_delivery_state is not null then
        insert into webhook_deliveries (job_id, state, callback_url, scope_owner_id, reason)
          values (p_job_id, p_delivery_state, p_delivery_callback_url,
            p_delivery_scope_owner_id, p_delivery_reason);
      end if;
    end
    $$`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('drop function phonebook_store_result');
}
