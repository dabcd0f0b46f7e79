import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

/**
 * The processes the bench starts (service parts, the reference, load generators,
 * redis-server) and what it reads of them from /proc. Every one is started here,
 * remembered, and stopped by its own pid when the bench ends, however it ends.
 */

export const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));
export const LOOPBACK = '127.0.0.1';

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Whether a process with this pid runs on this machine now. Signal 0 sends nothing,
 * it only checks; EPERM means the process runs under another user.
 */
function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Whether a name a bench run gave (a database, a directory) was left by a run whose
 * process is gone: `pattern` captures the run's pid. A name it does not match is not.
 */
export function leftByGoneRun(name: string, pattern: RegExp): boolean {
  const pid = pattern.exec(name)?.[1];
  return pid !== undefined && !isRunning(Number(pid));
}

/** Only what node and redis-server need from the bench's own environment. */
export function baseEnvironment(): Record<string, string> {
  const kept = ['PATH', 'HOME', 'TMPDIR', 'LANG', 'TZ'];
  return Object.fromEntries(
    kept.flatMap((name) => (process.env[name] ? [[name, process.env[name]]] : [])),
  );
}

const running = new Set<Child>();

/** A process the bench started, its output kept for the report of a failure. */
export class Child {
  readonly lines: string[] = [];
  stderr = '';
  readonly exited: Promise<number | null>;
  private readonly process: ChildProcess;

  constructor(
    readonly name: string,
    command: string,
    args: string[],
    env: Record<string, string>,
  ) {
    this.process = spawn(command, args, {
      cwd: REPO_ROOT,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    running.add(this);
    this.exited = new Promise((resolve) => {
      this.process.once('exit', (code) => {
        running.delete(this);
        resolve(code);
      });
      this.process.once('error', (error) => {
        running.delete(this);
        this.stderr += String(error);
        resolve(null);
      });
    });
    createInterface({ input: this.process.stdout! }).on('line', (line) => {
      this.lines.push(line);
    });
    this.process.stderr!.on('data', (chunk: Buffer) => {
      this.stderr = (this.stderr + chunk.toString('utf8')).slice(-20_000);
    });
  }

  get pid(): number {
    return this.process.pid ?? -1;
  }

  get alive(): boolean {
    return this.process.exitCode === null && this.process.signalCode === null;
  }

  /** SIGTERM, then SIGKILL if it has not exited within the bound. */
  async stop(graceMs = 15_000): Promise<void> {
    if (!this.alive) return;
    this.process.kill('SIGTERM');
    const exited = await Promise.race([this.exited.then(() => true), sleep(graceMs)]);
    if (exited !== true && this.alive) {
      this.process.kill('SIGKILL');
      await this.exited;
    }
  }

  /** Resolves with the output once the process exits; rejects on a non-zero exit. */
  async output(): Promise<string> {
    const code = await this.exited;
    if (code !== 0) {
      throw new Error(`${this.name} exited with ${code}: ${this.stderr.slice(-2_000)}`);
    }
    return this.lines.join('\n');
  }
}

/** Runs a TypeScript entry point of this repository under node, as the README says. */
export function nodeChild(
  name: string,
  args: string[],
  env: Record<string, string>,
): Child {
  return new Child(name, process.execPath, ['--import', 'tsx', ...args], env);
}

/** Stops every process the bench started that is still running, each by its pid. */
export async function stopAll(): Promise<void> {
  await Promise.all([...running].map((child) => child.stop(5_000)));
}

/** Resident set size of a process in bytes (VmRSS of /proc/PID/status). */
export function rssBytes(pid: number): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = /^VmRSS:\s+(\d+) kB/m.exec(status)?.[1];
    return kb === undefined ? 0 : Number(kb) * 1024;
  } catch {
    return 0;
  }
}

const TICKS_PER_SECOND = 100;

/** CPU time a process has used so far, user and system, in ms (/proc/PID/stat). */
export function cpuMs(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name, which is in parentheses and may hold spaces.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[11]) + Number(fields[12]);
    return (ticks * 1000) / TICKS_PER_SECOND;
  } catch {
    return 0;
  }
}

/** The 1-minute load average, as /proc/loadavg gives it. */
export function loadAverage(): number {
  return Number(readFileSync('/proc/loadavg', 'utf8').split(' ')[0]);
}
