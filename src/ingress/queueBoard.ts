import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { FastifyAdapter } from '@bull-board/fastify';
import type { Queue } from 'bullmq';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { credentialsMatch, type Credentials } from './basicAuth.ts';

/**
 * The BullMQ dashboard (bull-board) at `/admin/queues`, behind HTTP basic auth.
 *
 * Job data is never shown: a waiting job's data is the call's params, `hash`, `name`
 * and `number` among them, and the board would show them to anyone who may look at
 * queues. Its formatters replace the data and the return value (a create job's result
 * XML) with a note; a job's id, state, times, attempts and failed reason (a cause class,
 * errors.ts) stay visible. Read-only by default: bull-board then refuses every change
 * (retry, remove, pause, clean, add) with 405, in its API as well as in the page.
 */

export const BOARD_PATH = '/admin/queues';

export interface BoardOptions {
  queues: Queue[];
  credentials: Credentials;
  readOnly: boolean;
}

/** What the board shows in place of job data and return values. */
export const HIDDEN_JOB_DATA = 'hidden: job data holds call params and secrets';

const REALM = 'Basic realm="queues", charset="UTF-8"';

function boardQueue(queue: Queue, readOnly: boolean): BullMQAdapter {
  const adapter = new BullMQAdapter(queue, {
    readOnlyMode: readOnly,
    allowRetries: !readOnly,
  });
  adapter.setFormatter('data', () => HIDDEN_JOB_DATA);
  adapter.setFormatter('returnValue', () => HIDDEN_JOB_DATA);
  return adapter;
}

function requireCredentials(credentials: Credentials) {
  return async (request: FastifyRequest, reply: FastifyReply) => {
    if (credentialsMatch(request.headers.authorization, credentials)) return;
    request.outcome = 'UNAUTHORIZED';
    return reply
      .code(401)
      .header('www-authenticate', REALM)
      .type('text/plain; charset=utf-8')
      .send('Authentication required');
  };
}

/**
 * Mounts the board in a scope of its own: the credential check and a plain JSON body
 * parser (for the board's own actions; the MOR paths parse bodies their own way) hold
 * only under BOARD_PATH.
 */
export async function registerQueueBoard(app: FastifyInstance, options: BoardOptions) {
  const serverAdapter = new FastifyAdapter();
  serverAdapter.setBasePath(BOARD_PATH);
  createBullBoard({
    queues: options.queues.map((queue) => boardQueue(queue, options.readOnly)),
    serverAdapter,
  });

  await app.register(async (scope) => {
    scope.addHook('onRequest', requireCredentials(options.credentials));
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser(
      'application/json',
      { parseAs: 'string' },
      scope.getDefaultJsonParser('error', 'error'),
    );
    await scope.register(serverAdapter.registerPlugin(), { prefix: BOARD_PATH });
  });
}
