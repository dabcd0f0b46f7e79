import { UsageError } from './errors.ts';

const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * Reads a secret from standard input, so it stays out of shell history and process
 * lists. One trailing line break (from `echo` or a here-document) is dropped. Postgres
 * text holds neither invalid UTF-8 nor NUL, so those are refused.
 */
export async function readSecretFromStdin(): Promise<string> {
  if (process.stdin.isTTY) process.stderr.write('Secret (end with Enter, then Ctrl-D): ');

  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  const bytes = Buffer.concat(chunks);

  let text: string;
  try {
    text = strictUtf8.decode(bytes);
  } catch {
    throw new UsageError('the secret on standard input is not valid UTF-8');
  }
  if (text.includes('\0')) throw new UsageError('the secret must not contain NUL');
  return text.replace(/\r?\n$/, '');
}

/** The secret an argument gives: `-` reads it from standard input. */
export async function secretFromArgument(value: string): Promise<string> {
  return value === '-' ? readSecretFromStdin() : value;
}
