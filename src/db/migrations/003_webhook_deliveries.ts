import type { Knex } from 'knex';

/**
 * Webhook deliveries and their attempts (../shared/DESIGN.md section 3, Webhook).
 *
 * A delivery row is written in the same transaction as the job's result: it is the
 * outbox. Whatever happens to the process after that commit, the row says a delivery
 * is owed, and the delivery worker's sweep queues any pending row that lost its job.
 * Both tables go with the result they belong to when it expires.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('webhook_deliveries', (table) => {
    table.uuid('job_id').primary();
    table.foreign('job_id').references('job_results.job_id').onDelete('CASCADE');
    table.text('state').notNullable();
    table.text('callback_url');
    table.bigInteger('scope_owner_id');
    table.text('reason');
    table.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    table.timestamp('swept_at', { useTz: true });
    table.timestamp('finished_at', { useTz: true });
  });
  await knex.raw(`
    alter table webhook_deliveries
      add constraint webhook_deliveries_state check
        (state in ('pending', 'delivered', 'failed', 'refused', 'skipped')),
      add constraint webhook_deliveries_pending_has_target check
        (state <> 'pending' or (callback_url is not null and scope_owner_id is not null))`);
  // The sweep reads pending rows by the time they were last queued.
  await knex.raw(`
    create index webhook_deliveries_pending on webhook_deliveries
      ((coalesce(swept_at, created_at))) where state = 'pending'`);

  await knex.schema.createTable('webhook_attempts', (table) => {
    table.bigIncrements('id').primary();
    table.uuid('job_id').notNullable();
    table.foreign('job_id').references('webhook_deliveries.job_id').onDelete('CASCADE');
    table.timestamp('attempted_at', { useTz: true }).notNullable();
    table.integer('duration_ms').notNullable();
    table.integer('status_code');
    table.text('error');
    table.index(['job_id', 'id'], 'webhook_attempts_job_id');
  });
  await knex.raw(`
    alter table webhook_attempts add constraint webhook_attempts_status_or_error
      check ((status_code is null) <> (error is null))`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('webhook_attempts');
  await knex.schema.dropTable('webhook_deliveries');
}
