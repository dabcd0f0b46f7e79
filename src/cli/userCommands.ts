import type { Knex } from 'knex';
import { findUserById } from '../db/findUser.ts';
import { insertUser } from '../db/insertUser.ts';
import { listUsers } from '../db/listUsers.ts';
import { updateUser, type UserChanges } from '../db/updateUser.ts';
import type { UserConflict } from '../db/userConflict.ts';
import { USER_TYPES, type UserType } from '../types.ts';
import {
  expectPositionals,
  parseCommandArgs,
  parseId,
  parseOwnerId,
  type Command,
} from './args.ts';
import { CommandError, UsageError } from './errors.ts';
import { withDatabase } from './withDatabase.ts';

/**
 * Operators' user commands. The users table follows MOR (../shared/DESIGN.md, "Callers,
 * scopes and secrets"): the admin is user 0 (owned by -1), every other user is owned
 * by the admin or by a reseller, and usernames are unique regardless of case.
 */

const USER_OPTIONS = {
  username: { type: 'string' },
  usertype: { type: 'string' },
  owner: { type: 'string' },
} as const;

const BLANK = /^\p{White_Space}*$/u;

/** The fields the ownership rules look at; a new user may have no id yet. */
interface UserShape {
  id: bigint | undefined;
  usertype: string;
  ownerId: bigint;
}

function parseUsername(text: string): string {
  if (BLANK.test(text)) throw new UsageError('--username must not be blank');
  return text;
}

function parseUsertype(text: string): UserType {
  const usertype = USER_TYPES.find((type) => type === text);
  if (usertype === undefined) {
    throw new UsageError(`--usertype must be one of ${USER_TYPES.join(', ')}`);
  }
  return usertype;
}

function conflictText(conflict: UserConflict, id: bigint | undefined): string {
  if (conflict.conflict === 'username') {
    return 'a user with this username exists already (usernames are unique regardless of case)';
  }
  return id === undefined
    ? 'the next free id was taken meanwhile; try again'
    : `user ${id} exists already`;
}

/** Refuses a user that breaks the ownership rules; the owner is read from the database. */
async function checkOwnership(db: Knex, user: UserShape): Promise<void> {
  // A user added without an id gets one above the highest, so never 0.
  if (user.id === 0n || user.usertype === 'admin') {
    if (user.id !== 0n || user.usertype !== 'admin') {
      throw new CommandError('the admin is user 0, and user 0 is the admin');
    }
    if (user.ownerId !== -1n) throw new CommandError('the admin is owned by -1');
    return;
  }

  const owner = await findUserById(db, user.ownerId);
  if (owner === undefined) throw new CommandError(`owner ${user.ownerId} was not found`);
  if (owner.usertype !== 'admin' && owner.usertype !== 'reseller') {
    throw new CommandError(`owner ${user.ownerId} is neither the admin nor a reseller`);
  }
}

function required(value: string | undefined, flag: string): string {
  if (value === undefined) throw new UsageError(`missing ${flag}`);
  return value;
}

export const userAddCommand: Command = {
  words: ['user', 'add'],
  summary: 'add a user',
  help: `Usage: phonebook user add [--id N] --username NAME --usertype TYPE --owner N

Adds a user. TYPE is admin, reseller, user or accountant. Without --id the user gets
the next free id (one above the highest). Usernames are unique regardless of case.
The owner is the admin (0) or a reseller; the admin is user 0, owned by -1
(write --owner=-1).
`,
  run: async (argv) => {
    const { values, positionals } = parseCommandArgs(argv, {
      ...USER_OPTIONS,
      id: { type: 'string' },
    });
    expectPositionals(positionals, [] as const);
    const user = {
      id: values.id === undefined ? undefined : parseId(values.id, '--id'),
      username: parseUsername(required(values.username, '--username')),
      usertype: parseUsertype(required(values.usertype, '--usertype')),
      ownerId: parseOwnerId(required(values.owner, '--owner')),
    };

    const added = await withDatabase(async (db) => {
      await checkOwnership(db, user);
      return insertUser(db, user);
    });
    if ('conflict' in added) throw new CommandError(conflictText(added, user.id));
    console.log(`added user ${added.id}`);
  },
};

function changesFrom(values: {
  username?: string;
  usertype?: string;
  owner?: string;
}): UserChanges {
  const changes: UserChanges = {};
  if (values.username !== undefined) changes.username = parseUsername(values.username);
  if (values.usertype !== undefined) changes.usertype = parseUsertype(values.usertype);
  if (values.owner !== undefined) changes.ownerId = parseOwnerId(values.owner);
  if (Object.keys(changes).length === 0) {
    throw new UsageError('nothing to change: give --username, --usertype or --owner');
  }
  return changes;
}

async function changeUser(db: Knex, id: bigint, changes: UserChanges): Promise<void> {
  const current = await findUserById(db, id);
  if (current === undefined) throw new CommandError(`user ${id} was not found`);
  await checkOwnership(db, { ...current, ...changes });

  const updated = await updateUser(db, id, changes);
  if (updated === 'not found') throw new CommandError(`user ${id} was not found`);
  if (updated !== 'updated') throw new CommandError(conflictText(updated, id));
}

export const userSetCommand: Command = {
  words: ['user', 'set'],
  summary: 'change the username, usertype or owner of a user',
  help: `Usage: phonebook user set ID [--username NAME] [--usertype TYPE] [--owner N]

Changes the given fields of user ID and leaves the others as they are. The rules of
"phonebook user add" hold for the result.
`,
  run: async (argv) => {
    const { values, positionals } = parseCommandArgs(argv, USER_OPTIONS);
    const [idText] = expectPositionals(positionals, ['ID'] as const);
    const id = parseId(idText, 'ID');
    const changes = changesFrom(values);

    await withDatabase((db) => changeUser(db, id, changes));
    console.log(`updated user ${id}`);
  },
};

/** Rows as aligned columns, two spaces apart, no trailing blanks. */
function formatTable(rows: string[][]): string {
  const widths = rows[0]!.map((_, column) =>
    Math.max(...rows.map((row) => row[column]!.length)),
  );
  return rows
    .map((row) =>
      row
        .map((cell, column) => cell.padEnd(widths[column]!))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

export const userListCommand: Command = {
  words: ['user', 'list'],
  summary: 'list the users',
  help: `Usage: phonebook user list

Prints every user by id: id, username, usertype and owner id.
`,
  run: async (argv) => {
    expectPositionals(parseCommandArgs(argv, {}).positionals, [] as const);

    const users = await withDatabase((db) => listUsers(db));
    const rows = users.map((user) => [
      user.id.toString(),
      user.username,
      user.usertype,
      user.ownerId.toString(),
    ]);
    console.log(formatTable([['id', 'username', 'usertype', 'owner_id'], ...rows]));
  },
};
