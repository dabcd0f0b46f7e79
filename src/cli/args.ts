import { parseArgs, type ParseArgsConfig } from 'node:util';
import { UsageError } from './errors.ts';

/** One CLI command, selected by its words (`user add`) and given the arguments after them. */
export interface Command {
  words: readonly string[];
  /** One line for the command list of `phonebook --help`. */
  summary: string;
  /** The text `--help` prints. */
  help: string;
  run: (argv: string[]) => Promise<void>;
}

type Options = NonNullable<ParseArgsConfig['options']>;

const MAX_BIGINT = 2n ** 63n - 1n;

/** True when `--help` or `-h` comes before any `--` (after it, it is a value). */
export function helpRequested(argv: string[]): boolean {
  const end = argv.indexOf('--');
  const flags = end === -1 ? argv : argv.slice(0, end);
  return flags.includes('--help') || flags.includes('-h');
}

/**
 * node:util parseArgs, strict, with its errors turned into one-line usage errors.
 * Its hint about positionals starting with a dash is cut: it misleads on a typo.
 */
export function parseCommandArgs<T extends Options>(argv: string[], options: T) {
  try {
    return parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    throw new UsageError(
      message.split('. To specify a positional')[0]!.replaceAll('\n', ' '),
    );
  }
}

/** Checks that exactly the named positionals were given, and returns them. */
export function expectPositionals<Names extends readonly string[]>(
  positionals: string[],
  names: Names,
): { [K in keyof Names]: string } {
  if (positionals.length < names.length) {
    throw new UsageError(`missing ${names.slice(positionals.length).join(' ')}`);
  }
  if (positionals.length > names.length) {
    throw new UsageError(`unexpected argument after ${names.join(' ') || 'the command'}`);
  }
  return positionals as { [K in keyof Names]: string };
}

function isId(text: string): boolean {
  return /^[0-9]+$/.test(text) && BigInt(text) <= MAX_BIGINT;
}

/** A user id or scope: a whole number from 0 to the largest Postgres bigint. */
export function parseId(text: string, what: string): bigint {
  if (!isId(text)) throw new UsageError(`${what} must be a whole number from 0 up`);
  return BigInt(text);
}

/** An owner id: a user id, or -1 (the admin's owner). */
export function parseOwnerId(text: string): bigint {
  if (text === '-1') return -1n;
  if (!isId(text)) throw new UsageError('--owner must be a user id, or -1 for the admin');
  return BigInt(text);
}
