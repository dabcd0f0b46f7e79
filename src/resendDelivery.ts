import type { Knex } from 'knex';
import type { Config } from './config.ts';
import { resetDelivery } from './db/resetDelivery.ts';
import { isJobId } from './ingress/jobStatus.ts';
import { enqueueDelivery, type DeliveryQueue } from './queue.ts';

/**
 * An operator's resend of a dead delivery (the CLI's `delivery resend JOB_ID`): a
 * failed delivery becomes pending again and is queued, with the retry schedule from
 * its start. Earlier attempts stay recorded. Should the queueing fail, the row is
 * pending and the delivery worker's sweep queues it.
 */

export interface ResendDeps {
  db: Knex;
  config: Config;
  /** Open one with `openDeliveryQueue(config, connectRedis(config.REDIS_URL, 'producer'))`. */
  queue: DeliveryQueue;
}

/** The job id names no failed delivery: nothing was changed. */
export class DeliveryNotFailedError extends Error {
  constructor(readonly jobId: string) {
    super(`job ${jobId} has no failed delivery to resend`);
    this.name = 'DeliveryNotFailedError';
  }
}

export async function resendDelivery(deps: ResendDeps, jobId: string): Promise<void> {
  if (!isJobId(jobId) || !(await resetDelivery(deps.db, jobId))) {
    throw new DeliveryNotFailedError(jobId);
  }
  await enqueueDelivery(deps.queue, deps.config, jobId);
}
