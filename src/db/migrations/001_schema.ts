import type { Knex } from 'knex';

/**
 * Users, per-scope settings, phonebook records and stored results.
 *
 * Speed dial uniqueness is the database's job, so it holds under any number of
 * concurrent workers (../shared/DESIGN.md section 2, "Whose record it is"):
 * - a user's speed dial is unique among that user's records: a unique index;
 * - a new Global record (owner 0) must not repeat the speed dial of any record of any
 *   user at the moment it is created: a trigger. Every insert takes an advisory lock
 *   on its speed dial, shared for a user's record and exclusive for a Global one, so a
 *   Global insert sees every concurrent insert of the same speed dial committed first.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('users', (table) => {
    table.bigInteger('id').primary();
    table.text('username').notNullable();
    table.text('usertype').notNullable();
    table.bigInteger('owner_id').notNullable();
  });
  await knex.raw(
    'create unique index users_username_lower_unique on users (lower(username))',
  );

  await knex.schema.createTable('settings', (table) => {
    table.bigInteger('scope_owner_id').notNullable();
    table.text('name').notNullable();
    table.text('value').notNullable();
    table.primary(['scope_owner_id', 'name']);
  });

  await knex.schema.createTable('phonebook_records', (table) => {
    table.bigIncrements('id').primary();
    table.bigInteger('user_id').notNullable().references('users.id');
    table.string('number', 255).notNullable();
    table.string('name', 255).notNullable();
    table.string('speeddial', 50).notNullable();
    table.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    table.unique(['user_id', 'speeddial'], {
      indexName: 'phonebook_records_user_speeddial_unique',
    });
    table.index(['speeddial'], 'phonebook_records_speeddial');
  });

  await knex.raw(`
    create function phonebook_records_check_global_speeddial() returns trigger
    language plpgsql as $$
    declare
      lock_key bigint := hashtextextended('phonebook_records.speeddial:' || new.speeddial, 0);
    begin
      if new.user_id <> 0 then
        perform pg_advisory_xact_lock_shared(lock_key);
        return new;
      end if;

      perform pg_advisory_xact_lock(lock_key);
      if exists (select 1 from phonebook_records where speeddial = new.speeddial) then
        raise exception using
          errcode = 'unique_violation',
          constraint = 'phonebook_records_global_speeddial_unique',
          message = 'a record with this speed dial exists';
      end if;
      return new;
    end
    $$`);
  await knex.raw(`
    create trigger phonebook_records_global_speeddial
    before insert on phonebook_records
    for each row execute function phonebook_records_check_global_speeddial()`);

  await knex.schema.createTable('job_results', (table) => {
    table.uuid('job_id').primary();
    table.bigInteger('caller_user_id');
    table.boolean('success').notNullable();
    table.text('result_xml').notNullable();
    table.timestamp('accepted_at', { useTz: true }).notNullable();
    table
      .timestamp('finished_at', { useTz: true })
      .notNullable()
      .defaultTo(knex.fn.now());
    table.index(['finished_at'], 'job_results_finished_at');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('job_results');
  await knex.schema.dropTable('phonebook_records');
  await knex.raw('drop function phonebook_records_check_global_speeddial()');
  await knex.schema.dropTable('settings');
  await knex.schema.dropTable('users');
}
