import type { Knex } from 'knex';
import type { SettingRow } from './findScopeSettings.ts';

/** Sets one setting of a scope, replacing its value when it has one. */
export async function upsertSetting(
  db: Knex,
  scopeOwnerId: bigint,
  name: string,
  value: string,
): Promise<void> {
  await db<SettingRow>('settings')
    .insert({ scope_owner_id: scopeOwnerId.toString(), name, value })
    .onConflict(['scope_owner_id', 'name'])
    .merge(['value']);
}
