import type { FastifyInstance } from 'fastify';
import { SERVICE_ERRORS } from '../messages.ts';
import { decodeForm } from './formDecode.ts';
import { decodeJsonMembers, JsonSyntaxError } from './jsonDecode.ts';
import { decodeMultipart, MultipartError } from './multipartDecode.ts';
import { RequestError, type BodyParams, type ParamPair } from './readCall.ts';

/**
 * Body parsers of the MOR paths. Form, JSON and multipart bodies are read as bytes and decoded
 * here (not by fastify's, @fastify/formbody's or busboy's string decoders), so invalid UTF-8 is
 * seen before anything replaces it. Any other content type is read within the body
 * limit and ignored: the params then come from the query string alone.
 */

const NO_PARAMS: BodyParams = { pairs: [] };

function bounded(pairs: ParamPair[], maxParams: number): BodyParams {
  if (pairs.length > maxParams) throw new RequestError(SERVICE_ERRORS.tooManyParams);
  return { pairs };
}

export async function registerBodyParsers(
  app: FastifyInstance,
  maxParams: number,
): Promise<void> {
  app.removeAllContentTypeParsers();

  app.addContentTypeParser(
    'application/x-www-form-urlencoded',
    { parseAs: 'buffer' },
    (_request, body: Buffer, done) => {
      const { pairs, tooMany } = decodeForm(body, maxParams);
      if (tooMany) done(new RequestError(SERVICE_ERRORS.tooManyParams));
      else done(null, { pairs });
    },
  );

  app.addContentTypeParser(
    'application/json',
    { parseAs: 'buffer' },
    (_request, body: Buffer, done) => {
      if (body.length === 0) return done(null, NO_PARAMS);
      try {
        done(null, bounded(decodeJsonMembers(body), maxParams));
      } catch (error) {
        if (error instanceof JsonSyntaxError)
          done(new RequestError(SERVICE_ERRORS.bodyMalformed));
        else done(error as Error);
      }
    },
  );

  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, _body, done) => {
    done(null, NO_PARAMS);
  });

  app.addContentTypeParser(
    'multipart/form-data',
    { parseAs: 'buffer' },
    (request, body: Buffer, done) => {
      try {
        const { pairs, tooMany } = decodeMultipart(
          body,
          request.headers['content-type'] ?? '',
          maxParams,
        );
        if (tooMany) done(new RequestError(SERVICE_ERRORS.tooManyParams));
        else done(null, { pairs });
      } catch (error) {
        if (error instanceof MultipartError)
          done(new RequestError(SERVICE_ERRORS.bodyMalformed));
        else done(error as Error);
      }
    },
  );
}
