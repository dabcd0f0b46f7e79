import Fastify, { type FastifyInstance } from 'fastify';
import type pg from 'pg';
import { CREATE_PATHS } from '../../src/ingress/server.ts';
import { registerBodyParsers } from '../../src/ingress/bodyParsers.ts';
import { readCall, RequestError } from '../../src/ingress/readCall.ts';
import { formatServiceError, SERVICE_ERRORS } from '../../src/messages.ts';
import { errorXml, XML_TYPE } from '../../src/xml.ts';
import { answerReferenceCall } from './answerReferenceCall.ts';

/**
 * The reference's HTTP side: the service's paths, body parsers and param decoding,
 * then the whole call inside the request. No queue, no sync wait, no idempotency
 * keys or rate limits: a request is answered when its transaction has committed.
 */

export interface ReferenceOptions {
  maxParams: number;
  bodyLimitBytes: number;
}

export async function buildReference(
  pool: pg.Pool,
  options: ReferenceOptions,
): Promise<FastifyInstance> {
  const app = Fastify({ bodyLimit: options.bodyLimitBytes });
  await registerBodyParsers(app, options.maxParams);

  app.setErrorHandler((error, _request, reply) => {
    const known = error instanceof RequestError;
    const serviceError = known ? error.error : SERVICE_ERRORS.internal;
    const text = formatServiceError(serviceError, known ? error.detail : '');
    return reply.code(serviceError.httpStatus).type(XML_TYPE).send(errorXml(text));
  });

  for (const url of CREATE_PATHS) {
    app.route({
      method: ['GET', 'POST'],
      url,
      exposeHeadRoute: false,
      handler: async (request, reply) => {
        const call = readCall(request, options.maxParams);
        const method = request.method === 'GET' ? 'GET' : 'POST';
        const xml = await answerReferenceCall(pool, method, call.params);
        return reply.code(200).type(XML_TYPE).send(xml);
      },
    });
  }
  app.get('/healthz', async () => ({ status: 'ok' }));
  return app;
}
