import { helpRequested, type Command } from './cli/args.ts';
import { migrateCommand, seedCommand } from './cli/databaseCommands.ts';
import { deliveryResendCommand } from './cli/deliveryCommands.ts';
import { CommandError, EXIT_CODES, UsageError } from './cli/errors.ts';
import { hashCommand } from './cli/hashCommand.ts';
import { importCommand } from './cli/importCommand.ts';
import { settingsSetCommand, settingsShowCommand } from './cli/settingsCommands.ts';
import { userAddCommand, userListCommand, userSetCommand } from './cli/userCommands.ts';
import { errorFacts } from './log.ts';

/**
 * The operators' CLI (../shared/DESIGN.md section 5): migrate, seed, users, settings
 * and secrets, and the hash of a call; and `import`, bulk provisioning through the
 * HTTP API (issue 8). Run as `phonebook` (bin/phonebook.js),
 * `npm run cli --` or `tsx src/cli.ts`.
 */

const COMMANDS: readonly Command[] = [
  migrateCommand,
  seedCommand,
  userAddCommand,
  userSetCommand,
  userListCommand,
  settingsSetCommand,
  settingsShowCommand,
  hashCommand,
  deliveryResendCommand,
  importCommand,
];

function commandList(commands: readonly Command[]): string {
  const names = commands.map((command) => command.words.join(' '));
  const width = Math.max(...names.map((name) => name.length)) + 2;
  return commands
    .map((command, index) => `  ${names[index]!.padEnd(width)}${command.summary}`)
    .join('\n');
}

const HELP = `Usage: phonebook COMMAND [ARGS]

Operator commands of the phonebook_record_create service. The database is the one
DATABASE_URL names (default postgres://postgres@127.0.0.1:5432/phonebook); import
talks to the service at PHONEBOOK_URL instead.

Commands:
${commandList(COMMANDS)}

"phonebook COMMAND --help" tells more. Exit codes: 0 done; 1 refused or failed (a
conflict, a missing user, a database error); 2 command line not understood.
`;

function findCommand(argv: string[]): Command | undefined {
  return COMMANDS.find((command) =>
    command.words.every((word, index) => argv[index] === word),
  );
}

/** `phonebook user` or `phonebook settings` with no known subcommand. */
function groupHelp(argv: string[]): void {
  const [group = '', word] = argv;
  const members = COMMANDS.filter((command) => command.words[0] === group);
  if (members.length === 0) {
    throw new UsageError(`unknown command "${group}"; run "phonebook --help"`);
  }
  if (!helpRequested(argv.slice(1))) {
    throw new UsageError(
      word === undefined
        ? `"${group}" needs one of: ${members.map((m) => m.words[1]).join(', ')}`
        : `unknown command "${group} ${word}"; run "phonebook ${group} --help"`,
    );
  }
  console.log(`Commands:\n${commandList(members)}`);
}

async function dispatch(argv: string[]): Promise<void> {
  if (argv.length === 0) throw new UsageError('no command; run "phonebook --help"');
  if (argv[0] === '--help' || argv[0] === '-h' || argv[0] === 'help') {
    console.log(HELP.trimEnd());
    return;
  }

  const command = findCommand(argv);
  if (command === undefined) return groupHelp(argv);

  const rest = argv.slice(command.words.length);
  if (helpRequested(rest)) console.log(command.help.trimEnd());
  else await command.run(rest);
}

/** A failure as one line: the CLI's own errors say what to do; others say only their class. */
function failureLine(error: unknown): string {
  if (error instanceof UsageError || error instanceof CommandError) return error.message;

  const { name, code } = errorFacts(error);
  return `unexpected error: ${name}${code === undefined ? '' : ` (${code})`}`;
}

/** Runs one command line and returns the exit code; never throws. */
export async function runCli(argv: string[]): Promise<number> {
  try {
    await dispatch(argv);
    return EXIT_CODES.done;
  } catch (error) {
    console.error(`phonebook: ${failureLine(error)}`);
    return error instanceof UsageError ? EXIT_CODES.usage : EXIT_CODES.failed;
  }
}

process.exitCode = await runCli(process.argv.slice(2));
