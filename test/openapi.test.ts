import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { BOARD_PATH } from '../src/ingress/queueBoard.ts';
import type { RouteEntry } from '../src/ingress/routeList.ts';
import { startTestService, type TestService } from './harness.ts';

/** The OpenAPI 3.1 description at /openapi.json, in step with the routes (issue 6). */

interface Document {
  openapi: string;
  paths: Record<string, Record<string, { operationId: string; responses: object }>>;
}

/** `/billing/api/jobs/:id` as OpenAPI writes it: `/billing/api/jobs/{id}`. */
function templatePath(url: string): string {
  return url.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
}

/**
 * The operations the app serves, as `METHOD /path`: fastify's own HEAD twin of a GET
 * route left out, and the board's routes (its page, assets and the API its page
 * calls) folded into its entry, which is how the document describes the board.
 */
function servedOperations(routes: RouteEntry[]): string[] {
  const gets = new Set(routes.filter((r) => r.method === 'GET').map((r) => r.url));
  const served = routes
    .filter((route) => !(route.method === 'HEAD' && gets.has(route.url)))
    .map((route) =>
      route.url === BOARD_PATH || route.url.startsWith(`${BOARD_PATH}/`)
        ? `GET ${BOARD_PATH}`
        : `${route.method} ${templatePath(route.url)}`,
    );
  return [...new Set(served)].sort();
}

function documentedOperations(document: Document): string[] {
  return Object.entries(document.paths)
    .flatMap(([path, item]) =>
      Object.keys(item).map((method) => `${method.toUpperCase()} ${path}`),
    )
    .sort();
}

async function fetchDocument(service: TestService): Promise<Document> {
  const response = await service.app!.inject('/openapi.json');
  assert.equal(response.statusCode, 200);
  assert.match(String(response.headers['content-type']), /^application\/json/);
  return response.json() as Document;
}

describe('the OpenAPI document with the board mounted', () => {
  let service: TestService;
  before(async () => {
    service = await startTestService(
      { BOARD_USERNAME: 'queue-ops', BOARD_PASSWORD: 'board-password-7c1e' },
      { ingress: true, worker: false },
    );
  });
  after(async () => {
    await service.dispose();
  });

  it('is served at /openapi.json as OpenAPI 3.1, one operationId per operation', async () => {
    const document = await fetchDocument(service);
    const operations = Object.values(document.paths).flatMap((item) =>
      Object.values(item),
    );

    assert.equal(document.openapi, '3.1.0');
    const ids = operations.map((operation) => operation.operationId);
    assert.equal(new Set(ids).size, ids.length);
    assert.ok(
      operations.every((operation) => Object.keys(operation.responses).length > 0),
    );
  });

  it('describes every registered route, and nothing that is not registered', async () => {
    const document = await fetchDocument(service);

    assert.deepEqual(
      documentedOperations(document),
      servedOperations(service.app!.routeList),
    );
    assert.ok(documentedOperations(document).includes(`GET ${BOARD_PATH}`));
  });
});

describe('the OpenAPI document without the board', () => {
  let service: TestService;
  before(async () => {
    service = await startTestService({}, { ingress: true, worker: false });
  });
  after(async () => {
    await service.dispose();
  });

  it('leaves the board out and stays in step with the routes', async () => {
    const document = await fetchDocument(service);

    assert.deepEqual(
      documentedOperations(document),
      servedOperations(service.app!.routeList),
    );
    assert.ok(!(BOARD_PATH in document.paths));
    assert.ok('/billing/api/jobs/{id}' in document.paths);
  });
});
