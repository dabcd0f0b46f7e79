import type { Worker } from 'bullmq';
import type { Logger } from 'pino';

/**
 * Closes a BullMQ worker: active jobs get `graceMs` to finish, then the worker is
 * forced closed (their locks lapse and another worker runs them again).
 */
export async function closeWorker(
  worker: Pick<Worker, 'close' | 'name'>,
  graceMs: number,
  log: Logger,
): Promise<void> {
  const closing = worker.close();
  const timedOut = await Promise.race([
    closing.then(() => false),
    new Promise<boolean>((resolve) => setTimeout(() => resolve(true), graceMs).unref()),
  ]);
  if (!timedOut) return;

  log.warn(
    { queue: worker.name, graceMs },
    'worker did not stop within the grace period; forcing',
  );
  await Promise.race([
    worker.close(true),
    new Promise((r) => setTimeout(r, 1_000).unref()),
  ]);
}
