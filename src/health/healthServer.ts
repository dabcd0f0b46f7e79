import Fastify, {
  LogController,
  type FastifyBaseLogger,
  type FastifyInstance,
} from 'fastify';
import type { Logger } from 'pino';
import { registerOperationsRoutes, type OperationsDeps } from './operationsRoutes.ts';

/**
 * The small HTTP server of a process that runs only workers (`--worker`), on
 * WORKER_HEALTH_PORT: `/healthz`, `/readyz` and `/metrics`, nothing else. Its requests
 * are not logged one by one: probes and scrapes come every few seconds, and their
 * answers, not log lines, are what is watched.
 */
export function buildHealthServer(log: Logger, deps: OperationsDeps): FastifyInstance {
  const app = Fastify({
    loggerInstance: log as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    return503OnClosing: true,
  });
  registerOperationsRoutes(app, deps);
  app.setNotFoundHandler((_request, reply) =>
    reply.code(404).send({ error: 'Not found' }),
  );
  return app;
}
