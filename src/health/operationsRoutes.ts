import type { FastifyInstance } from 'fastify';
import type { ServiceMetrics } from '../metrics/serviceMetrics.ts';
import type { Readiness } from './readiness.ts';

/** The paths every process serves for its operators, on the ingress or the worker's port. */
export const OPERATIONS_PATHS = {
  health: '/healthz',
  readiness: '/readyz',
  metrics: '/metrics',
} as const;

export interface OperationsDeps {
  readiness: Readiness;
  metrics: ServiceMetrics;
}

/**
 * `/healthz`: the process answers. `/readyz`: 200 when it can do its work, else 503,
 * with every check and its result. `/metrics`: the Prometheus text exposition.
 */
export function registerOperationsRoutes(app: FastifyInstance, deps: OperationsDeps) {
  const route = { exposeHeadRoute: false };

  app.get(OPERATIONS_PATHS.health, route, async () => ({ status: 'ok' }));

  app.get(OPERATIONS_PATHS.readiness, route, async (_request, reply) => {
    const { ready, checks } = await deps.readiness();
    return reply.code(ready ? 200 : 503).send({ ready, checks });
  });

  app.get(OPERATIONS_PATHS.metrics, route, async (_request, reply) => {
    const text = await deps.metrics.exposition();
    return reply.type(deps.metrics.contentType).send(text);
  });
}
