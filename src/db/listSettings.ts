import type { Knex } from 'knex';
import type { SettingRow } from './findScopeSettings.ts';

/** The settings stored in one scope, by name. A setting never set is absent. */
export async function listSettings(
  db: Knex,
  scopeOwnerId: bigint,
): Promise<Map<string, string>> {
  const rows = await db<SettingRow>('settings')
    .select('name', 'value')
    .where('scope_owner_id', scopeOwnerId.toString());

  return new Map(rows.map((row) => [row.name, row.value]));
}
