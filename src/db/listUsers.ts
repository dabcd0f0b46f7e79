import type { Knex } from 'knex';
import type { User } from '../types.ts';
import type { UserRow } from './findUser.ts';

/** Every user, by id. */
export async function listUsers(db: Knex): Promise<User[]> {
  const rows = await db<UserRow>('users')
    .select('id', 'username', 'usertype', 'owner_id')
    .orderBy('id');

  return rows.map((row) => ({
    id: BigInt(row.id),
    username: row.username,
    usertype: row.usertype,
    ownerId: BigInt(row.owner_id),
  }));
}
