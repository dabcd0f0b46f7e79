import type { Queue } from 'bullmq';
import { Gauge, type Registry } from 'prom-client';
import { withTimeout } from '../timeout.ts';

/**
 * Queue depth, read from Redis when Prometheus scrapes (not kept up to date between
 * scrapes), and BullMQ's own exposition of the same queues.
 */

/** Bound on the Redis reads of one scrape, per queue. */
export const QUEUE_READ_TIMEOUT_MS = 1_000;

/**
 * The states counted, in BullMQ's words. `getJobCounts` answers `waiting` under the
 * key `wait`; the label says `waiting`.
 */
const STATES = [
  'waiting',
  'active',
  'delayed',
  'prioritized',
  'waiting-children',
  'paused',
  'completed',
  'failed',
] as const;

function countOf(counts: Record<string, number>, state: (typeof STATES)[number]) {
  return (state === 'waiting' ? counts.wait : counts[state]) ?? 0;
}

/**
 * `phonebook_queue_jobs{queue,state}`. A queue whose counts cannot be read within the
 * bound (Redis away) has no samples in that scrape rather than stale ones.
 */
export function registerQueueDepth(registry: Registry, queues: Queue[]): void {
  new Gauge({
    name: 'phonebook_queue_jobs',
    help: 'Jobs in each queue by BullMQ state, read from Redis at scrape time',
    labelNames: ['queue', 'state'],
    registers: [registry],
    async collect() {
      this.reset();
      await Promise.all(
        queues.map(async (queue) => {
          const counts = await withTimeout(
            queue.getJobCounts(...STATES),
            QUEUE_READ_TIMEOUT_MS,
          ).catch(() => undefined);
          if (counts === undefined) return;
          for (const state of STATES) {
            this.set({ queue: queue.name, state }, countOf(counts, state));
          }
        }),
      );
    },
  });
}

/**
 * BullMQ's own families (`bullmq_job_count`, `bullmq_job_completed_total`,
 * `bullmq_job_failed_total`) for every queue; a queue that does not answer within the
 * bound is left out of this scrape.
 */
export async function bullmqExpositions(queues: Queue[]): Promise<string[]> {
  const texts = await Promise.all(
    queues.map((queue) =>
      withTimeout(queue.exportPrometheusMetrics(), QUEUE_READ_TIMEOUT_MS).catch(() => ''),
    ),
  );
  return texts.filter((text) => text !== '');
}
