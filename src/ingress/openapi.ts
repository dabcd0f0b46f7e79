import packageJson from '../../package.json' with { type: 'json' };
import { OPERATIONS_PATHS } from '../health/operationsRoutes.ts';
import { CALL_PARAM_NAMES } from '../types.ts';
import { BOARD_PATH } from './queueBoard.ts';

/**
 * The OpenAPI 3.1 description of the ingress's own endpoints, served at
 * `/openapi.json`. A test keeps it in step with the routes the ingress registers:
 * every route is described and every described operation is a route. Paths are in
 * OpenAPI's template form (`{id}`); the board's many routes are described by its entry.
 */

export const OPENAPI_PATH = '/openapi.json';

type Schema = Record<string, unknown>;

const XML = 'text/xml; charset=utf-8';
const text = { type: 'string' };

function xmlResponse(description: string): Schema {
  return { description, content: { [XML]: { schema: text } } };
}

const callParams: Schema = {
  type: 'object',
  properties: {
    ...Object.fromEntries(CALL_PARAM_NAMES.map((name) => [name, text])),
    p: {
      type: 'string',
      description: 'Accepted and ignored: never checked, stored or logged',
    },
    async: { type: 'string', description: '`1` answers at once with the job (202)' },
  },
  required: ['u'],
};

const createOperation = (method: 'get' | 'post', idPrefix: string): Schema => ({
  summary: "MOR's phonebook_record_create, through the queue",
  description:
    'Params from the query string or (POST) a form, multipart or JSON body. Sync by ' +
    'default: answers the MOR result XML; `Prefer: respond-async`, `async=1` or a ' +
    '`callback_url` answer 202 with the job at once. GET only while Allow_GET_API is on.',
  operationId: `${method}${idPrefix}PhonebookRecordCreate`,
  parameters: [
    ...[
      'u',
      'hash',
      'user_id',
      'number',
      'name',
      'speeddial',
      'callback_url',
      'async',
    ].map((name) => ({ name, in: 'query', required: false, schema: text })),
    { name: 'Prefer', in: 'header', required: false, schema: text },
    { name: 'Idempotency-Key', in: 'header', required: false, schema: text },
  ],
  ...(method === 'post'
    ? {
        requestBody: {
          required: false,
          content: {
            'application/x-www-form-urlencoded': { schema: callParams },
            'multipart/form-data': { schema: callParams },
            'application/json': { schema: callParams },
          },
        },
      }
    : {}),
  responses: {
    '200': xmlResponse('The MOR answer, success or MOR error'),
    '202': xmlResponse('Queued; `Location` names the job, `Retry-After` when to poll'),
    '400': xmlResponse('A param that is not one text value, a malformed body or key'),
    '413': xmlResponse('Body too large, or too many params'),
    '414': xmlResponse('Request URL too long'),
    '422': xmlResponse('Idempotency-Key already used with other params'),
    '429': xmlResponse('Rate limit reached; `Retry-After` says when to retry'),
    '503': xmlResponse('Redis unreachable, or the job failed for good'),
  },
});

const jobStatusJson: Schema = {
  type: 'object',
  properties: {
    id: text,
    state: { enum: ['waiting', 'active', 'delayed', 'completed', 'failed'] },
    done: { type: 'boolean' },
    result_xml: { type: ['string', 'null'] },
    created_at: { type: ['string', 'null'], format: 'date-time' },
    finished_at: { type: ['string', 'null'], format: 'date-time' },
    webhook: { type: ['object', 'null'] },
  },
  required: ['id', 'state', 'done'],
};

const jobOperation = (idPrefix: string): Schema => ({
  summary: 'The state or stored result of a job',
  operationId: `get${idPrefix}Job`,
  parameters: [
    { name: 'id', in: 'path', required: true, schema: { ...text, format: 'uuid' } },
    { name: 'Accept', in: 'header', required: false, schema: text },
  ],
  responses: {
    '200': {
      description: 'The stored result XML, or with `Accept: application/json` the status',
      content: { [XML]: { schema: text }, 'application/json': { schema: jobStatusJson } },
    },
    '202': xmlResponse('Still waiting, active or delayed'),
    '404': xmlResponse('Unknown or expired job id'),
    '503': xmlResponse('The job failed for good, or Redis is unreachable'),
  },
});

const readinessJson: Schema = {
  type: 'object',
  properties: {
    ready: { type: 'boolean' },
    checks: { type: 'object', additionalProperties: text },
  },
};

const operations: Record<string, Schema> = {
  [OPERATIONS_PATHS.health]: {
    summary: 'The process is alive',
    operationId: 'getHealth',
    responses: { '200': { description: 'Alive' } },
  },
  [OPERATIONS_PATHS.readiness]: {
    summary: 'Redis and Postgres reachable, migrations applied, workers consuming',
    operationId: 'getReadiness',
    responses: {
      '200': {
        description: 'Ready',
        content: { 'application/json': { schema: readinessJson } },
      },
      '503': {
        description: 'Not ready; `checks` says why',
        content: { 'application/json': { schema: readinessJson } },
      },
    },
  },
  [OPERATIONS_PATHS.metrics]: {
    summary: 'Prometheus metrics, text exposition format 0.0.4',
    operationId: 'getMetrics',
    responses: {
      '200': { description: 'Metrics', content: { 'text/plain': { schema: text } } },
    },
  },
  [OPENAPI_PATH]: {
    summary: 'This document',
    operationId: 'getOpenApi',
    responses: {
      '200': { description: 'OpenAPI 3.1', content: { 'application/json': {} } },
    },
  },
};

const boardOperation: Schema = {
  summary: 'The BullMQ dashboard (bull-board): an HTML page and the API it calls below',
  operationId: 'getQueueBoard',
  security: [{ basicAuth: [] }],
  responses: {
    '200': { description: 'The dashboard page', content: { 'text/html': {} } },
    '401': { description: 'Missing or wrong credentials' },
  },
};

/** The document; the board's path is in it only when the board is mounted. */
export function openApiDocument(options: { board: boolean }) {
  const paths: Record<string, Schema> = {
    '/billing/api/phonebook_record_create': {
      get: createOperation('get', 'Billing'),
      post: createOperation('post', 'Billing'),
    },
    '/api/phonebook_record_create': {
      get: createOperation('get', ''),
      post: createOperation('post', ''),
    },
    '/billing/api/jobs/{id}': { get: jobOperation('Billing') },
    '/api/jobs/{id}': { get: jobOperation('') },
    ...Object.fromEntries(
      Object.entries(operations).map(([path, get]) => [path, { get }]),
    ),
  };
  if (options.board) paths[BOARD_PATH] = { get: boardOperation };

  return {
    openapi: '3.1.0',
    info: {
      title: 'phonebook_record_create, MOR-compatible, through a durable queue',
      version: packageJson.version,
    },
    paths,
    components: {
      securitySchemes: { basicAuth: { type: 'http', scheme: 'basic' } },
    },
  };
}
