import type { Knex } from 'knex';
import type { NewRecord } from '../types.ts';
import { PG_ERRORS } from './connect.ts';

/**
 * Inserts a record inside the caller's transaction. Both uniqueness rules are enforced
 * by the database (see the schema migration); a violation of either comes back as
 * `taken`, and the savepoint keeps the surrounding transaction usable.
 */
export async function insertRecord(
  trx: Knex.Transaction,
  record: NewRecord,
): Promise<'added' | 'taken'> {
  try {
    await trx.transaction(async (savepoint) => {
      await savepoint('phonebook_records').insert({
        user_id: record.userId.toString(),
        number: record.number,
        name: record.name,
        speeddial: record.speeddial,
      });
    });
    return 'added';
  } catch (error) {
    if ((error as { code?: string }).code === PG_ERRORS.uniqueViolation) return 'taken';
    throw error;
  }
}
