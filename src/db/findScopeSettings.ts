import type { Knex } from 'knex';
import type { ScopeSettings } from '../types.ts';

/** Setting names as MOR spells them. */
export const SETTING_NAMES = {
  allowApi: 'Allow_API',
  apiSecretKey: 'API_Secret_Key',
  disableHashChecking: 'API_Disable_hash_checking',
  allowGetApi: 'Allow_GET_API',
} as const;

export const GLOBAL_SCOPE = 0n;

export interface SettingRow {
  scope_owner_id: string;
  name: string;
  value: string;
}

/** A switch is on only when its value is `1`; no value, or any other, is off. */
function isOn(rows: SettingRow[], name: string): boolean {
  return rows.find((row) => row.name === name)?.value === '1';
}

export interface CallerSettings {
  scope: ScopeSettings;
  /** `Allow_GET_API` is read from the global scope only. */
  allowGetApi: boolean;
}

/** The caller scope's API settings and the global GET switch, from their rows. */
export function callerSettingsFromRows(
  rows: SettingRow[],
  scopeOwnerId: bigint,
): CallerSettings {
  const own = rows.filter((row) => BigInt(row.scope_owner_id) === scopeOwnerId);
  const global = rows.filter((row) => BigInt(row.scope_owner_id) === GLOBAL_SCOPE);

  return {
    scope: {
      allowApi: isOn(own, SETTING_NAMES.allowApi),
      apiSecretKey:
        own.find((row) => row.name === SETTING_NAMES.apiSecretKey)?.value ?? '',
      disableHashChecking: isOn(own, SETTING_NAMES.disableHashChecking),
    },
    allowGetApi: isOn(global, SETTING_NAMES.allowGetApi),
  };
}

/** Reads the caller scope's API settings and the global GET switch in one query. */
export async function findScopeSettings(
  db: Knex,
  scopeOwnerId: bigint,
): Promise<CallerSettings> {
  const rows = await db<SettingRow>('settings')
    .select('scope_owner_id', 'name', 'value')
    .whereIn('scope_owner_id', [scopeOwnerId.toString(), GLOBAL_SCOPE.toString()]);
  return callerSettingsFromRows(rows, scopeOwnerId);
}
