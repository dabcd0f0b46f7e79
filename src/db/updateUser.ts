import type { Knex } from 'knex';
import type { UserType } from '../types.ts';
import type { UserRow } from './findUser.ts';
import { userConflictOf, type UserConflict } from './userConflict.ts';

/** The fields of a user an operator may change; a missing one stays as it is. */
export interface UserChanges {
  username?: string;
  usertype?: UserType;
  ownerId?: bigint;
}

/** Changes a user; a username clash comes back as a conflict. */
export async function updateUser(
  db: Knex,
  id: bigint,
  changes: UserChanges,
): Promise<'updated' | 'not found' | UserConflict> {
  const columns: Partial<UserRow> = {};
  if (changes.username !== undefined) columns.username = changes.username;
  if (changes.usertype !== undefined) columns.usertype = changes.usertype;
  if (changes.ownerId !== undefined) columns.owner_id = changes.ownerId.toString();

  try {
    const count = await db<UserRow>('users').where('id', id.toString()).update(columns);
    return count === 0 ? 'not found' : 'updated';
  } catch (error) {
    const conflict = userConflictOf(error);
    if (conflict === undefined) throw error;
    return conflict;
  }
}
