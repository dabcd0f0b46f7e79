import { loadConfig } from '../config.ts';
import { closeQueue, connectRedis, openDeliveryQueue } from '../queue.ts';
import { DeliveryNotFailedError, resendDelivery } from '../resendDelivery.ts';
import { withTimeout } from '../timeout.ts';
import { expectPositionals, parseCommandArgs, type Command } from './args.ts';
import { CommandError } from './errors.ts';
import { withDatabase } from './withDatabase.ts';

/** How long the resend waits for Redis to take the delivery job. */
const QUEUE_TIMEOUT_MS = 5_000;

export const deliveryResendCommand: Command = {
  words: ['delivery', 'resend'],
  summary: 'send a failed webhook delivery again',
  help: `Usage: phonebook delivery resend JOB_ID

Makes the failed webhook delivery of the job JOB_ID pending again and queues it, with
the retry schedule from its start. Earlier attempts stay recorded. Refused (exit 1)
when the job has no failed delivery. Uses DATABASE_URL, REDIS_URL and QUEUE_PREFIX.
`,
  run: async (argv) => {
    const [jobId] = expectPositionals(parseCommandArgs(argv, {}).positionals, [
      'JOB_ID',
    ] as const);
    const config = loadConfig();
    // A consumer connection waits for Redis instead of failing at once; the timeout bounds it.
    const connection = connectRedis(config.REDIS_URL, 'consumer');
    const queue = openDeliveryQueue(config, connection);
    queue.on('error', () => {});

    try {
      await withDatabase((db) =>
        withTimeout(resendDelivery({ db, config, queue }, jobId), QUEUE_TIMEOUT_MS),
      );
    } catch (error) {
      if (
        error instanceof CommandError &&
        error.cause instanceof DeliveryNotFailedError
      ) {
        throw new CommandError(error.cause.message);
      }
      throw error;
    } finally {
      await closeQueue(queue, 1_000);
      connection.disconnect();
    }
    console.log(`delivery of job ${jobId} queued again`);
  },
};
