import type { Knex } from 'knex';
import { SETTING_NAMES } from './findScopeSettings.ts';

/**
 * The demo data of ../shared/DESIGN.md section 6, so the API page's example runs as
 * printed. Idempotent: what exists already is left as it is.
 */
export const DEMO_USERS = [
  { id: 0, username: 'admin', usertype: 'admin', owner_id: -1 },
  { id: 2, username: 'username', usertype: 'user', owner_id: 0 },
  { id: 3, username: 'reseller', usertype: 'reseller', owner_id: 0 },
  { id: 4, username: 'accountant', usertype: 'accountant', owner_id: 0 },
  { id: 5, username: 'user_reseller', usertype: 'user', owner_id: 3 },
];

export const DEMO_SETTINGS = [
  { scope_owner_id: 0, name: SETTING_NAMES.allowApi, value: '1' },
  { scope_owner_id: 0, name: SETTING_NAMES.apiSecretKey, value: 'secret' },
  { scope_owner_id: 0, name: SETTING_NAMES.allowGetApi, value: '0' },
  { scope_owner_id: 3, name: SETTING_NAMES.allowApi, value: '1' },
  { scope_owner_id: 3, name: SETTING_NAMES.apiSecretKey, value: 'rsecret' },
];

export async function seedDemo(db: Knex): Promise<void> {
  await db.transaction(async (trx) => {
    await trx('users').insert(DEMO_USERS).onConflict().ignore();
    await trx('settings').insert(DEMO_SETTINGS).onConflict().ignore();
  });
}
