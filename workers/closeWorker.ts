import type { Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';

/**
 * Attempts in progress, counted outside BullMQ, so a shutdown can wait for them even
 * while Redis is away (when BullMQ's own close cannot finish).
 */
export class RunningAttempts {
  private readonly running = new Set<Promise<unknown>>();

  /** Wraps a processor so each attempt is counted while it runs. */
  track<J, R>(process: (job: J) => Promise<R>): (job: J) => Promise<R> {
    return (job) => {
      const attempt = process(job);
      this.running.add(attempt);
      const forget = () => this.running.delete(attempt);
      attempt.then(forget, forget);
      return attempt;
    };
  }

  get size(): number {
    return this.running.size;
  }

  settled(): Promise<unknown> {
    return Promise.allSettled(this.running);
  }
}

/** True when the promise settled within the time, false when the time ran out first. */
async function settledWithin(
  promise: Promise<unknown>,
  timeoutMs: number,
): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), Math.max(0, timeoutMs));
  });
  const settled = promise.then(
    () => true as const,
    () => true as const,
  );
  try {
    return await Promise.race([settled, timedOut]);
  } finally {
    clearTimeout(timer);
  }
}

/** How long a close waits for a new worker's blocking connection to finish connecting. */
const READY_WAIT_MS = 1_000;

/** ioredis statuses of a connection that lost Redis or was closed. */
const REDIS_AWAY = new Set(['reconnecting', 'close', 'end']);

export interface CloseWorkerOptions {
  graceMs: number;
  log: Logger;
  attempts: RunningAttempts;
  connection: Redis;
}

/**
 * Stops taking jobs and waits, within the grace period, for the attempts in progress;
 * then lets BullMQ report them and quit. While Redis is away BullMQ's close never
 * resolves (ioredis emits no `end` for a connection that is between reconnects), and
 * nothing can be reported anyway: a job whose attempt finished then runs again later
 * and returns its stored outcome. So the wait for BullMQ is skipped when Redis is not
 * connected, and cut off when the grace runs out.
 */
export async function closeWorker(
  worker: Pick<Worker, 'close' | 'name' | 'waitUntilReady'>,
  { graceMs, log, attempts, connection }: CloseWorkerOptions,
): Promise<void> {
  const deadline = Date.now() + graceMs;
  // BullMQ 5.81 re-emits a failed first connect (its INFO included) as an `error`
  // after close dropped its listeners: an unhandled rejection when a worker is closed
  // just after it was made, its connection still connecting. So that connect is let
  // finish first, within the bound, unless the connection is already retrying or gone:
  // then Redis is away and the close goes on at once.
  if (!REDIS_AWAY.has(connection.status)) {
    await settledWithin(worker.waitUntilReady(), Math.min(READY_WAIT_MS, graceMs));
  }
  const closing = worker.close();
  closing.catch((error: unknown) =>
    log.warn(
      { queue: worker.name, err: { name: (error as Error)?.name } },
      'worker close failed',
    ),
  );

  const finished = await settledWithin(attempts.settled(), graceMs);
  if (!finished) {
    log.warn(
      { queue: worker.name, graceMs, active: attempts.size },
      'active jobs outlived the grace period',
    );
  } else if (connection.status === 'ready') {
    if (await settledWithin(closing, deadline - Date.now())) return;
    log.warn(
      { queue: worker.name, graceMs },
      'worker did not stop within the grace period',
    );
  }
  connection.disconnect();
}
