import type { FastifyInstance } from 'fastify';

/** One method of one registered route, as fastify has it (`/billing/api/jobs/:id`). */
export interface RouteEntry {
  method: string;
  url: string;
}

declare module 'fastify' {
  interface FastifyInstance {
    /** Every route registered on the app, the board's included (routeList.ts). */
    routeList: RouteEntry[];
  }
}

/**
 * Records every route registered from now on, in plugins too, as `app.routeList`, so
 * the OpenAPI document can be checked against what is really served.
 */
export function recordRoutes(app: FastifyInstance): void {
  const routes: RouteEntry[] = [];
  app.decorate('routeList', routes);
  app.addHook('onRoute', (route) => {
    for (const method of [route.method].flat()) routes.push({ method, url: route.url });
  });
}
