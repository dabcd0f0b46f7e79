import type { Knex } from 'knex';
import { scopeOf } from '../callRules.ts';
import { findScopeSettings } from '../db/findScopeSettings.ts';
import { findUserByUsername } from '../db/findUser.ts';
import { computeHash, SIGNED_PARAM_ORDER, type CallBytes } from '../hash.ts';
import { parseCommandArgs, type Command } from './args.ts';
import { CommandError, UsageError } from './errors.ts';
import { secretFromArgument } from './readSecret.ts';
import { withDatabase } from './withDatabase.ts';

/**
 * Prints the hash a call must carry, computed by the service's own code (src/hash.ts).
 * Printing the hash is this command's purpose; the secret is never printed.
 */

const SECRET_ENV = 'PHONEBOOK_SECRET';

/** `name=value` arguments as the bytes a client sends; a repeated name keeps its last value. */
function parseParams(args: string[]): CallBytes {
  const params: CallBytes = {};
  for (const [index, arg] of args.entries()) {
    const equals = arg.indexOf('=');
    if (equals === -1) throw new UsageError(`argument ${index + 1} is not PARAM=VALUE`);

    const name = SIGNED_PARAM_ORDER.find((known) => known === arg.slice(0, equals));
    if (name === undefined) {
      throw new UsageError(`PARAM must be one of ${SIGNED_PARAM_ORDER.join(', ')}`);
    }
    params[name] = Buffer.from(arg.slice(equals + 1), 'utf8');
  }
  return params;
}

/** The secret of the scope the user signs with, as the worker would check it. */
async function scopeSecret(db: Knex, username: string): Promise<string> {
  const caller = await findUserByUsername(db, username);
  if (caller === undefined) throw new CommandError('no user has this username');

  const scopeOwnerId = scopeOf(caller);
  const { scope } = await findScopeSettings(db, scopeOwnerId);
  if (/^\s*$/.test(scope.apiSecretKey)) {
    throw new CommandError(`scope ${scopeOwnerId} of this user has no API_Secret_Key`);
  }
  if (scope.disableHashChecking) {
    console.error(`note: hash checking is off in scope ${scopeOwnerId}`);
  }
  return scope.apiSecretKey;
}

async function chooseSecret(values: { secret?: string; user?: string }): Promise<string> {
  if (values.secret !== undefined && values.user !== undefined) {
    throw new UsageError('give --secret or --user, not both');
  }
  if (values.secret !== undefined) return secretFromArgument(values.secret);
  if (values.user !== undefined) {
    const username = values.user;
    return withDatabase((db) => scopeSecret(db, username));
  }

  const secret = process.env[SECRET_ENV];
  if (secret === undefined || secret === '') {
    throw new UsageError(`no secret: give --secret or --user, or set ${SECRET_ENV}`);
  }
  return secret;
}

export const hashCommand: Command = {
  words: ['hash'],
  summary: 'print the hash a call must carry',
  help: `Usage: phonebook hash [--secret SECRET | --user USERNAME] PARAM=VALUE...

Prints the 40-hex SHA-1 that a call to phonebook_record_create must carry: over the
values of the signed params in MOR's order (${SIGNED_PARAM_ORDER.join(', ')}),
then the secret. PARAM is one of those; the order given here does not matter.

The secret is --secret (- reads it from standard input), or the secret of the scope
USERNAME signs with (read from the database of DATABASE_URL), or else ${SECRET_ENV}.
A secret given as --secret lands in shell history; prefer the others.

Example: phonebook hash --user username user_id=2 number=920355666 name=phonebook speeddial=666
`,
  run: async (argv) => {
    const { values, positionals } = parseCommandArgs(argv, {
      secret: { type: 'string' },
      user: { type: 'string' },
    });
    const params = parseParams(positionals);
    const secret = await chooseSecret(values);

    console.log(computeHash(params, secret));
  },
};
