import type { LookupAddress, LookupOptions } from 'node:dns';
import http from 'node:http';
import https from 'node:https';
import type { LookupFunction } from 'node:net';
import type { ConnectTarget } from './callbackTarget.ts';

/**
 * One POST of a delivery. Node's http client never follows a redirect, so a 3xx is
 * simply an answer. Each attempt opens its own connection (no agent pool), so a
 * socket made for one judgement is never reused under another.
 */

export type AttemptError = 'timeout' | 'dns' | 'network';

/** What one attempt came to: an HTTP answer, or the class of error that ended it. */
export type AttemptOutcome =
  | { kind: 'response'; statusCode: number; retryAfter: string | undefined }
  | { kind: 'error'; errorClass: AttemptError };

export interface WebhookPost {
  target: ConnectTarget;
  headers: Record<string, string>;
  body: Buffer;
  timeoutMs: number;
}

/** Reading stops past this many bytes of a receiver's answer; only its status matters. */
const MAX_ANSWER_BYTES = 64 * 1024;

class AttemptTimeoutError extends Error {
  constructor(timeoutMs: number) {
    super(`no answer within ${timeoutMs} ms`);
    this.name = 'AttemptTimeoutError';
  }
}

/**
 * A `lookup` for the socket that answers with the addresses already judged, never
 * asking DNS again. Node asks with `all: true` when it races address families
 * (`autoSelectFamily`, on by default since Node 20) and for one address otherwise.
 */
export function connectLookup(addresses: LookupAddress[]): LookupFunction {
  return (_hostname: string, options: LookupOptions, callback) => {
    const [first] = addresses;
    if (first === undefined) {
      callback(Object.assign(new Error('no allowed address'), { code: 'ENOTFOUND' }), '');
    } else if (options.all) {
      callback(null, addresses);
    } else {
      callback(null, first.address, first.family);
    }
  };
}

function requestOptions(post: WebhookPost): https.RequestOptions {
  const { url, hostname, addresses } = post.target;
  const auth = url.username
    ? `${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`
    : undefined;

  return {
    method: 'POST',
    protocol: url.protocol,
    hostname,
    port: url.port === '' ? undefined : Number(url.port),
    path: `${url.pathname}${url.search}`,
    auth,
    headers: { ...post.headers, 'content-length': String(post.body.length) },
    agent: false,
    lookup: connectLookup(addresses),
  };
}

/** Reads and drops the answer's body, within the same time bound and a size bound. */
function discardBody(response: http.IncomingMessage, timeoutMs: number): void {
  let bytes = 0;
  const timer = setTimeout(() => response.destroy(), timeoutMs);
  timer.unref();
  response.on('data', (chunk: Buffer) => {
    bytes += chunk.length;
    if (bytes > MAX_ANSWER_BYTES) response.destroy();
  });
  response.on('close', () => clearTimeout(timer));
  response.on('error', () => {});
}

/** Sends the POST; never throws, every ending is an outcome. */
export function postWebhook(post: WebhookPost): Promise<AttemptOutcome> {
  const send = post.target.url.protocol === 'https:' ? https.request : http.request;

  return new Promise((resolve) => {
    const request = send(requestOptions(post));
    const timer = setTimeout(
      () => request.destroy(new AttemptTimeoutError(post.timeoutMs)),
      post.timeoutMs,
    );

    request.on('response', (response) => {
      clearTimeout(timer);
      const retryAfter = response.headers['retry-after'];
      resolve({ kind: 'response', statusCode: response.statusCode ?? 0, retryAfter });
      discardBody(response, post.timeoutMs);
    });
    request.on('error', (error) => {
      clearTimeout(timer);
      const errorClass = error instanceof AttemptTimeoutError ? 'timeout' : 'network';
      resolve({ kind: 'error', errorClass });
    });
    request.end(post.body);
  });
}
