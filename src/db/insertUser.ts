import type { Knex } from 'knex';
import type { UserType } from '../types.ts';
import type { UserRow } from './findUser.ts';
import { userConflictOf, type UserConflict } from './userConflict.ts';

export interface NewUser {
  /** Without an id the user gets the next free one: one above the highest in use. */
  id: bigint | undefined;
  username: string;
  usertype: UserType;
  ownerId: bigint;
}

/**
 * Inserts a user and returns its id. The database enforces both unique rules (id, and
 * username regardless of case), so a clash comes back as a conflict, never a duplicate.
 */
export async function insertUser(
  db: Knex,
  user: NewUser,
): Promise<{ id: bigint } | UserConflict> {
  const nextId = db.raw('(select coalesce(max(id), 0) + 1 from users)');

  try {
    const [row] = await db<UserRow>('users')
      .insert({
        id: user.id?.toString() ?? nextId,
        username: user.username,
        usertype: user.usertype,
        owner_id: user.ownerId.toString(),
      })
      .returning('id');
    return { id: BigInt((row as Pick<UserRow, 'id'>).id) };
  } catch (error) {
    const conflict = userConflictOf(error);
    if (conflict === undefined) throw error;
    return conflict;
  }
}
