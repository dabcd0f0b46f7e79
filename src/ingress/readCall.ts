import type { FastifyRequest } from 'fastify';
import { formatServiceError, SERVICE_ERRORS, type ServiceError } from '../messages.ts';
import { CALL_PARAM_NAMES, type CallParamName, type QueuedParams } from '../types.ts';
import { decodeForm } from './formDecode.ts';
import { NOT_TEXT } from './jsonDecode.ts';

/**
 * Reads a request's call params (../shared/DESIGN.md section 2, "Endpoint and
 * parameters"): query string and body merged, the query string winning a clash, the
 * last of a repeated key winning. `p` is dropped here, so a password is never queued.
 */

export type ParamValue = Buffer | typeof NOT_TEXT;

export interface ParamPair {
  key: string;
  value: ParamValue;
}

/** What a body parser hands the route: the body's params in order, or none. */
export interface BodyParams {
  pairs: ParamPair[];
}

/** A request the ingress refuses before queueing; answered with an XML error. */
export class RequestError extends Error {
  constructor(
    readonly error: ServiceError,
    readonly detail = '',
    options?: { cause?: unknown },
  ) {
    super(formatServiceError(error, detail), options);
    this.name = 'RequestError';
  }
}

export interface ReadCall {
  params: QueuedParams;
  /** `async=1` asked for an answer at once. */
  asyncParam: boolean;
}

const KNOWN = new Set<string>([...CALL_PARAM_NAMES, 'async']);
const BRACKETED = /^([^[\]]+)\[.*\]$/;
const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** `name[]=x` and `name[key]=x` are how PHP clients send arrays: not one text value. */
function normalisePair(pair: ParamPair): ParamPair {
  const bracketed = BRACKETED.exec(pair.key);
  return bracketed ? { key: bracketed[1] as string, value: NOT_TEXT } : pair;
}

export function queryPairs(url: string, maxParams: number): ParamPair[] {
  const question = url.indexOf('?');
  if (question === -1) return [];

  const { pairs, tooMany } = decodeForm(
    Buffer.from(url.slice(question + 1), 'latin1'),
    maxParams,
  );
  if (tooMany) throw new RequestError(SERVICE_ERRORS.tooManyParams);
  return pairs;
}

function toQueued(value: Buffer): QueuedParams[CallParamName] {
  try {
    return strictUtf8.decode(value);
  } catch {
    return { invalidUtf8: value.toString('base64') };
  }
}

/** Merges body then query pairs; later pairs overwrite earlier ones. */
export function mergeCall(bodyPairs: ParamPair[], urlPairs: ParamPair[]): ReadCall {
  const merged = new Map<string, Buffer>();
  for (const pair of [...bodyPairs, ...urlPairs].map(normalisePair)) {
    if (!KNOWN.has(pair.key)) continue;
    // Any array, object or `name[]=` among a param's values refuses the request,
    // wherever it stands: a later plain value must not hide it.
    if (pair.value === NOT_TEXT)
      throw new RequestError(SERVICE_ERRORS.paramNotText, pair.key);
    merged.set(pair.key, pair.value);
  }

  const params: QueuedParams = {};
  for (const [key, value] of merged) {
    if (key !== 'async') params[key as CallParamName] = toQueued(value);
  }

  const asyncValue = merged.get('async');
  return { params, asyncParam: asyncValue?.toString() === '1' };
}

export function readCall(request: FastifyRequest, maxParams: number): ReadCall {
  const body = request.body as BodyParams | undefined;
  return mergeCall(body?.pairs ?? [], queryPairs(request.raw.url ?? '', maxParams));
}
