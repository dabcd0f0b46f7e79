/**
 * How a CLI command ends. Every failure is one line on standard error, never a stack
 * trace, and its exit code says which kind it was.
 */
export const EXIT_CODES = {
  /** The command did its work. */
  done: 0,
  /** The command was understood but refused or failed: a conflict, a missing user,
   * an unreachable or unmigrated database. */
  failed: 1,
  /** The command line was not understood: an unknown command or flag, a missing
   * argument, a value of the wrong form. */
  usage: 2,
} as const;

/** The command line was not understood (exit code 2). */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** The command was understood and could not do its work (exit code 1). */
export class CommandError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'CommandError';
  }
}
