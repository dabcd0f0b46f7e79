import { mkdtemp, readdir, rm } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { sparePort } from '../test/sparePort.ts';
import { waitFor } from '../test/waitFor.ts';
import { baseEnvironment, Child, leftByGoneRun, LOOPBACK } from './processes.ts';

/**
 * A bench Redis's directory in the OS temp dir, `phonebook-bench-redis-<pid>-<random>`:
 * the pid is the bench's own, so a later run can tell a killed run's directory from
 * that of a bench still running.
 */
const DIR_PREFIX = 'phonebook-bench-redis-';
const BENCH_DIR = new RegExp(`^${DIR_PREFIX}(\\d+)-`);

/** Removes the Redis directories of bench runs whose process no longer runs. */
export async function removeLeftoverRedisDirs(): Promise<string[]> {
  const entries = await readdir(tmpdir(), { withFileTypes: true });
  const leftovers = entries
    .filter((entry) => entry.isDirectory() && leftByGoneRun(entry.name, BENCH_DIR))
    .map((entry) => path.join(tmpdir(), entry.name));
  for (const dir of leftovers) await rm(dir, { recursive: true, force: true });
  return leftovers;
}

/** Whether something on the port answers `PING` with `+PONG`. */
function answersPing(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: LOOPBACK, port });
    const answer = (answered: boolean) => {
      socket.destroy();
      resolve(answered);
    };
    socket.setTimeout(500, () => answer(false));
    socket.once('error', () => answer(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.once('data', (data) => answer(data.toString().startsWith('+PONG')));
  });
}

/**
 * A redis-server of the bench's own on a spare loopback port, one per measured run,
 * configured as the compose file runs Redis in production (append-only, noeviction).
 * Its own server keeps the memory figures clean: the machine's shared Redis also
 * serves other test runs, whose keys would move `used_memory` under the bench.
 */
export class BenchRedis {
  private constructor(
    readonly port: number,
    private readonly dir: string,
    private readonly child: Child,
    readonly client: Redis,
  ) {}

  static async start(): Promise<BenchRedis> {
    const port = await sparePort();
    const dir = await mkdtemp(path.join(tmpdir(), `${DIR_PREFIX}${process.pid}-`));
    // prettier-ignore
    const args = [
      '--port', String(port), '--bind', LOOPBACK, '--dir', dir, '--save', '',
      '--appendonly', 'yes', '--maxmemory-policy', 'noeviction', '--daemonize', 'no',
    ];
    const child = new Child('redis-server', 'redis-server', args, baseEnvironment());
    await waitFor(
      `redis-server on port ${port}`,
      async () => {
        if (!child.alive) throw new Error(`redis-server exited: ${child.stderr}`);
        return answersPing(port);
      },
      10_000,
      50,
    );
    const client = new Redis({ host: LOOPBACK, port });
    client.on('error', () => {});
    return new BenchRedis(port, dir, child, client);
  }

  get url(): string {
    return `redis://${LOOPBACK}:${this.port}`;
  }

  get pid(): number {
    return this.child.pid;
  }

  /** `used_memory` of INFO memory: bytes Redis has allocated for its data and buffers. */
  async usedMemory(): Promise<number> {
    const info = await this.client.info('memory');
    return Number(/^used_memory:(\d+)/m.exec(info)?.[1] ?? 0);
  }

  /** The numeric fields of INFO memory that say where `used_memory` went. */
  async memoryBreakdown(): Promise<Record<string, number>> {
    const info = await this.client.info('memory');
    const fields = [
      'used_memory',
      'used_memory_dataset',
      'used_memory_overhead',
      'used_memory_scripts',
      'mem_clients_normal',
      'mem_aof_buffer',
    ];
    return Object.fromEntries(
      fields.map((field) => [
        field,
        Number(new RegExp(`^${field}:(\\d+)`, 'm').exec(info)?.[1] ?? 0),
      ]),
    );
  }

  /** Bytes each key takes (MEMORY USAGE), read with SCAN so Redis is never blocked. */
  async keyUsage(): Promise<Record<string, number>> {
    const usage: Record<string, number> = {};
    let cursor = '0';
    do {
      const [next, keys] = await this.client.scan(cursor, 'COUNT', 1000);
      cursor = next;
      for (const key of keys) usage[key] = Number(await this.client.memory('USAGE', key));
    } while (cursor !== '0');
    return usage;
  }

  async stop(): Promise<void> {
    this.client.disconnect();
    await this.child.stop(5_000);
    await rm(this.dir, { recursive: true, force: true });
  }
}
