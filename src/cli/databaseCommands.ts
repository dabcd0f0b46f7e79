import { ensureDatabase, migrateLatest } from '../db/connect.ts';
import { seedDemo } from '../db/seedDemo.ts';
import { expectPositionals, parseCommandArgs, type Command } from './args.ts';
import { withDatabase } from './withDatabase.ts';

export const migrateCommand: Command = {
  words: ['migrate'],
  summary: 'create the database when missing, then apply the migrations',
  help: `Usage: phonebook migrate

Creates the database named by DATABASE_URL when it is missing, then applies every
migration not yet applied. Safe to run again, and from several places at once.
`,
  run: async (argv) => {
    expectPositionals(parseCommandArgs(argv, {}).positionals, [] as const);

    await withDatabase(async (db, databaseUrl) => {
      // knex connects lazily, so the database exists before its first query.
      await ensureDatabase(databaseUrl);
      await migrateLatest(db);
    });
    console.log('migrations are up to date');
  },
};

export const seedCommand: Command = {
  words: ['seed'],
  summary: 'add the demo users and settings (idempotent)',
  help: `Usage: phonebook seed

Adds the demo data (users admin, username, reseller, accountant, user_reseller; the
API settings of scopes 0 and 3), so the API page's example call runs as printed.
What exists already is left as it is: running it again changes nothing.
`,
  run: async (argv) => {
    expectPositionals(parseCommandArgs(argv, {}).positionals, [] as const);

    await withDatabase((db) => seedDemo(db));
    console.log('demo data is present');
  },
};
