import pino, { type Logger } from 'pino';

/**
 * Logging policy: ids, outcomes, durations and sizes only. No payload, record field,
 * username, hash, password or secret is ever passed to a logger; errors are logged by
 * name and code, never by their data.
 */
export function createLogger(
  level: string,
  destination?: pino.DestinationStream,
): Logger {
  return pino({ level, base: { pid: process.pid } }, destination);
}

/** The loggable facts of an error: its class and code, never its message's data. */
export function errorFacts(error: unknown): { name: string; code?: string } {
  const { name, code } = (error ?? {}) as { name?: unknown; code?: unknown };
  return {
    name: typeof name === 'string' ? name : 'unknown',
    ...(typeof code === 'string' ? { code } : {}),
  };
}
