import type { Knex } from 'knex';

/**
 * Idempotency keys, scoped to the caller (../shared/DESIGN.md section 3). Kept in
 * Postgres, not Redis, so a Redis restart does not forget them.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('idempotency_keys', (table) => {
    table.text('caller').notNullable();
    table.text('key').notNullable();
    table.text('fingerprint').notNullable();
    table.uuid('job_id').notNullable();
    table.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    table.primary(['caller', 'key']);
    table.index(['created_at'], 'idempotency_keys_created_at');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('idempotency_keys');
}
