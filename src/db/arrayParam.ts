import type { Knex } from 'knex';

/**
 * A column of values bound as one array parameter: pg writes it as an array literal,
 * a null element as NULL. knex's types know arrays without nulls only, hence the cast.
 */
export function arrayParam(values: Array<string | boolean | Date | null>): Knex.Value {
  return values as string[];
}
