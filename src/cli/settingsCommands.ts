import type { Knex } from 'knex';
import { GLOBAL_SCOPE, SETTING_NAMES } from '../db/findScopeSettings.ts';
import { findUserById } from '../db/findUser.ts';
import { listSettings } from '../db/listSettings.ts';
import { upsertSetting } from '../db/upsertSetting.ts';
import { expectPositionals, parseCommandArgs, parseId, type Command } from './args.ts';
import { CommandError, UsageError } from './errors.ts';
import { secretFromArgument } from './readSecret.ts';
import { withDatabase } from './withDatabase.ts';

/**
 * Operators' settings commands. Settings live per scope: the global one (0) and one
 * per reseller (../shared/DESIGN.md, "Callers, scopes and secrets"). A secret is
 * never printed: `show` says only whether it is set.
 */

type SettingName = (typeof SETTING_NAMES)[keyof typeof SETTING_NAMES];

const NAMES: readonly SettingName[] = Object.values(SETTING_NAMES);

/** A switch is stored as MOR stores it: `1` on, `0` off. */
const SWITCH_VALUES: Record<string, '1' | '0'> = {
  on: '1',
  off: '0',
  '1': '1',
  '0': '0',
  true: '1',
  false: '0',
};

/** The worker's test for a blank secret (`API must have Secret Key`). */
const BLANK_SECRET = /^\s*$/;

function parseName(text: string): SettingName {
  const name = NAMES.find((known) => known === text);
  if (name === undefined) throw new UsageError(`NAME must be one of ${NAMES.join(', ')}`);
  return name;
}

function parseSwitch(text: string): '1' | '0' {
  const value = SWITCH_VALUES[text.toLowerCase()];
  if (value === undefined)
    throw new UsageError('a switch takes on, off, 1, 0, true or false');
  return value;
}

/** What `show` prints for a stored value: a switch as on or off, a secret hidden. */
function shownValue(name: SettingName, value: string | undefined): string {
  if (name === SETTING_NAMES.apiSecretKey) {
    if (value === undefined) return '(not set)';
    return BLANK_SECRET.test(value) ? '(blank)' : '(hidden)';
  }
  if (value === undefined) return 'off (not set)';
  return value === '1' ? 'on' : 'off';
}

/** A scope is 0 (global) or the id of a reseller. */
async function checkScope(db: Knex, scope: bigint): Promise<void> {
  if (scope === GLOBAL_SCOPE) return;

  const owner = await findUserById(db, scope);
  if (owner?.usertype !== 'reseller') {
    throw new CommandError(
      `scope ${scope} is neither 0 (global) nor the id of a reseller`,
    );
  }
}

async function settingValue(name: SettingName, text: string): Promise<string> {
  if (name !== SETTING_NAMES.apiSecretKey) return parseSwitch(text);

  const secret = await secretFromArgument(text);
  if (BLANK_SECRET.test(secret)) {
    console.error(
      'note: with a blank secret every call is answered API must have Secret Key',
    );
  }
  return secret;
}

export const settingsSetCommand: Command = {
  words: ['settings', 'set'],
  summary: 'set an API setting of a scope',
  help: `Usage: phonebook settings set SCOPE NAME VALUE

Sets one API setting of a scope. SCOPE is 0 (global) or the id of a reseller.
NAME and VALUE:
  Allow_API                  on or off
  API_Secret_Key             the secret; - reads it from standard input, which keeps
                             it out of shell history
  API_Disable_hash_checking  on or off
  Allow_GET_API              on or off; scope 0 only
A switch takes on, off, 1, 0, true or false and is stored as 1 or 0.
`,
  run: async (argv) => {
    const { positionals } = parseCommandArgs(argv, {});
    const [scopeText, nameText, valueText] = expectPositionals(positionals, [
      'SCOPE',
      'NAME',
      'VALUE',
    ] as const);
    const scope = parseId(scopeText, 'SCOPE');
    const name = parseName(nameText);
    if (name === SETTING_NAMES.allowGetApi && scope !== GLOBAL_SCOPE) {
      throw new CommandError(`${name} is a global setting: its scope is 0`);
    }
    const value = await settingValue(name, valueText);

    await withDatabase(async (db) => {
      await checkScope(db, scope);
      await upsertSetting(db, scope, name, value);
    });
    console.log(`${name} of scope ${scope} is now ${shownValue(name, value)}`);
  },
};

export const settingsShowCommand: Command = {
  words: ['settings', 'show'],
  summary: 'show the API settings of a scope (the secret stays hidden)',
  help: `Usage: phonebook settings show SCOPE

Prints the API settings of scope SCOPE (0, global, or the id of a reseller). The
secret is never printed: it shows as (hidden), (blank) or (not set).
`,
  run: async (argv) => {
    const { positionals } = parseCommandArgs(argv, {});
    const [scopeText] = expectPositionals(positionals, ['SCOPE'] as const);
    const scope = parseId(scopeText, 'SCOPE');

    const stored = await withDatabase(async (db) => {
      await checkScope(db, scope);
      return listSettings(db, scope);
    });
    const names = NAMES.filter(
      (name) => scope === GLOBAL_SCOPE || name !== SETTING_NAMES.allowGetApi,
    );
    const width = Math.max(...names.map((name) => name.length)) + 2;
    console.log(
      scope === GLOBAL_SCOPE ? 'scope 0 (global)' : `scope ${scope} (reseller)`,
    );
    for (const name of names) {
      console.log(`${name.padEnd(width)}${shownValue(name, stored.get(name))}`);
    }
  },
};
