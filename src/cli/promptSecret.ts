import { UsageError } from './errors.ts';

/**
 * Asks for a secret on the terminal without echoing it: the terminal is put in raw
 * mode, so typed characters reach only this process. Enter ends the secret;
 * Backspace removes the last character; Ctrl-C or Ctrl-D give up.
 */

const ENTER = new Set(['\r', '\n']);
const GIVE_UP = new Set(['\u0003', '\u0004']);
const BACKSPACE = new Set(['\u007f', '\b']);

function readHiddenLine(stdin: NodeJS.ReadStream): Promise<string> {
  return new Promise((resolve, reject) => {
    let secret = '';
    const onData = (chunk: Buffer) => {
      for (const char of chunk.toString('utf8')) {
        if (ENTER.has(char)) return finish(() => resolve(secret));
        if (GIVE_UP.has(char)) {
          return finish(() => reject(new UsageError('no secret given')));
        }
        if (BACKSPACE.has(char)) secret = [...secret].slice(0, -1).join('');
        else if (char >= ' ') secret += char;
      }
    };
    const finish = (settle: () => void) => {
      stdin.off('data', onData);
      settle();
    };
    stdin.on('data', onData);
  });
}

export async function promptSecret(prompt: string): Promise<string> {
  const { stdin, stderr } = process;
  stderr.write(prompt);
  stdin.setRawMode(true);
  stdin.resume();
  try {
    const secret = await readHiddenLine(stdin);
    if (secret === '') throw new UsageError('no secret given');
    return secret;
  } finally {
    stdin.setRawMode(false);
    stdin.pause();
    stderr.write('\n');
  }
}
