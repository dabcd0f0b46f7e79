import type { Knex } from 'knex';
import type { User } from '../types.ts';

export interface UserRow {
  id: string;
  username: string;
  usertype: string;
  owner_id: string;
}

const COLUMNS = ['id', 'username', 'usertype', 'owner_id'] as const;

function toUser(row: UserRow | undefined): User | undefined {
  if (row === undefined) return undefined;
  return {
    id: BigInt(row.id),
    username: row.username,
    usertype: row.usertype,
    ownerId: BigInt(row.owner_id),
  };
}

/** Usernames match case-insensitively (they are unique that way too). */
export async function findUserByUsername(
  db: Knex,
  username: string,
): Promise<User | undefined> {
  const row = await db<UserRow>('users')
    .select(...COLUMNS)
    .whereRaw('lower(username) = lower(?)', [username])
    .first();
  return toUser(row);
}

export async function findUserById(db: Knex, id: bigint): Promise<User | undefined> {
  const row = await db<UserRow>('users')
    .select(...COLUMNS)
    .where('id', id.toString())
    .first();
  return toUser(row);
}
