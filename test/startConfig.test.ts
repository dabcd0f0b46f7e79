import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { describe, it } from 'node:test';

/**
 * `src/main.ts` validates its configuration before it touches anything: one line per
 * bad value on stderr and exit code 2 (../shared/DESIGN.md section 5).
 */

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the service entry point with only these variables (and PATH) set. */
function runMain(args: string[], env: Record<string, string>): Promise<Run> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', ...args], {
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  return new Promise((resolve) =>
    child.on('exit', (code) => resolve({ code, stdout, stderr })),
  );
}

describe('the service started with bad configuration', { concurrency: true }, () => {
  it('prints one line per bad value and exits with code 2', async () => {
    const run = await runMain(['--worker'], {
      DATABASE_URL: 'mysql://127.0.0.1/phonebook',
      PORT: 'http',
      WORKER_HEALTH_PORT: '70000',
      WORKER_CONCURRENCY: '0',
      BOARD_USERNAME: 'queue-ops',
      BOARD_READ_ONLY: 'maybe',
      LOG_LEVEL: 'loud',
    });

    assert.equal(run.code, 2);
    assert.equal(run.stdout, '');
    assert.equal(
      run.stderr,
      [
        'invalid configuration:',
        'DATABASE_URL: must be a postgres:// URL',
        'PORT: Invalid input: expected number, received NaN',
        'WORKER_CONCURRENCY: Too small: expected number to be >=1',
        'WORKER_HEALTH_PORT: Too big: expected number to be <=65535',
        'BOARD_READ_ONLY: must be true or false',
        'LOG_LEVEL: Invalid option: expected one of "fatal"|"error"|"warn"|"info"|"debug"|"trace"|"silent"',
        '',
      ].join('\n'),
    );
  });

  it('refuses a board password without a username, and a short one, without printing it', async () => {
    const password = 'short-pw';
    const run = await runMain([], { BOARD_PASSWORD: password });

    assert.equal(run.code, 2);
    assert.equal(
      run.stderr,
      [
        'invalid configuration:',
        'BOARD_PASSWORD: must be at least 12 characters',
        'BOARD_USERNAME: must be set together with BOARD_PASSWORD',
        '',
      ].join('\n'),
    );
    assert.ok(!run.stderr.includes(password));
  });
});
