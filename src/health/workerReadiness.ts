import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { ProgressWatch } from './progressWatch.ts';

/**
 * The readiness of one BullMQ worker: that it is consuming, not only alive.
 *
 * A BullMQ 5 worker has two Redis connections: its own, for moving jobs and renewing
 * locks, and a blocking one (a duplicate BullMQ makes) that waits on the queue's
 * marker for new jobs. A worker is consuming when
 * - its main loop runs (`Worker.isRunning()`: false once the loop has ended, which
 *   nothing restarts) and it is not paused;
 * - both connections are `ready`: during a Redis outage, and while ioredis is still
 *   reconnecting after one, they are `reconnecting` or `connecting`, and a connection
 *   that was closed for good is `end`;
 * - while jobs wait and it has a free slot, it took or finished one within the
 *   progress timeout (progressWatch.ts): that catches a worker whose connections look
 *   fine but that takes nothing.
 */

/** What is read of a BullMQ `Worker`, whatever its job types. */
export interface ConsumerWorker {
  isRunning(): boolean;
  isPaused(): boolean;
  /** Resolves with BullMQ's blocking client once it is connected. */
  waitUntilReady(): Promise<{ status: string }>;
  on(event: 'active' | 'completed' | 'failed', listener: () => void): unknown;
}

export interface WatchedWorker {
  worker: ConsumerWorker;
  /** The worker's own connection (BullMQ's blocking one is found through the worker). */
  connection: Redis;
  /** The same queue, opened by the producer, to count the jobs waiting. */
  queue: Queue;
  concurrency: number;
  /** Attempts this process is running now. */
  running: () => number;
  progressTimeoutMs: number;
}

export class WorkerReadiness {
  /** BullMQ's blocking client; only its status is read. */
  private blocking: { status: string } | undefined;
  private readonly progress: ProgressWatch;

  constructor(private readonly watched: WatchedWorker) {
    const { worker } = watched;
    this.progress = new ProgressWatch(watched.progressTimeoutMs);
    const noteProgress = () => this.progress.noteProgress();
    worker.on('active', noteProgress);
    worker.on('completed', noteProgress);
    worker.on('failed', noteProgress);
    // Resolves with the blocking client once it first connects, which may be after a
    // start without Redis; the client object stays the same across reconnects.
    worker.waitUntilReady().then(
      (client) => (this.blocking = client),
      () => undefined,
    );
  }

  get name(): string {
    return this.watched.queue.name;
  }

  /** Connection and loop state only; undefined when they are fine. */
  private stateProblem(): string | undefined {
    const { worker, connection } = this.watched;
    // A paused worker's loop ends too, so the pause is asked first.
    if (worker.isPaused()) return 'paused';
    if (!worker.isRunning()) return 'not running';
    if (connection.status !== 'ready') return `connection ${connection.status}`;
    const blocking = this.blocking?.status ?? 'not connected yet';
    if (blocking !== 'ready') return `blocking connection ${blocking}`;
    return undefined;
  }

  /** `ok`, or why the worker is not consuming. Rejects when Redis cannot be read. */
  async check(): Promise<string> {
    const problem = this.stateProblem();
    if (problem !== undefined) return problem;

    const { queue, concurrency, running } = this.watched;
    const counts = await queue.getJobCounts('waiting', 'prioritized');
    const waiting = (counts.wait ?? 0) + (counts.prioritized ?? 0);
    const freeSlots = concurrency - running();
    if (this.progress.consuming(waiting, freeSlots)) return 'ok';
    return 'not consuming: jobs wait and none was taken within the progress timeout';
  }
}
