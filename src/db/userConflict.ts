import { PG_ERRORS } from './connect.ts';

/** Which unique rule of the users table a write broke: the id, or the username. */
export interface UserConflict {
  conflict: 'id' | 'username';
}

/** Index names from the schema migration. */
const CONSTRAINTS: Record<string, UserConflict['conflict']> = {
  users_pkey: 'id',
  users_username_lower_unique: 'username',
};

/** The conflict a unique violation on the users table stands for, if it is one. */
export function userConflictOf(error: unknown): UserConflict | undefined {
  const { code, constraint } = (error ?? {}) as { code?: unknown; constraint?: unknown };
  if (code !== PG_ERRORS.uniqueViolation || typeof constraint !== 'string') {
    return undefined;
  }

  const conflict = CONSTRAINTS[constraint];
  return conflict === undefined ? undefined : { conflict };
}
