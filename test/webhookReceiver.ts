import { createHash } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { findDeliveryStatus } from '../src/db/findDeliveryStatus.ts';
import type { RunningService } from '../src/service.ts';
import type { DeliveryStatus } from '../src/types.ts';
import type { HostLookup } from '../src/webhook/callbackTarget.ts';
import { callApi } from './harness.ts';

/**
 * A webhook receiver for tests: an HTTP server on 127.0.0.1 that records every
 * request it gets (and every connection opened to it) and answers from a script.
 * Its signature check is written here from the HMAC definition (RFC 2104) over plain
 * SHA-256, so it shares no code with the service's signing.
 */

export interface ReceivedRequest {
  method: string;
  path: string;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  receivedAtMs: number;
}

export interface ScriptedReply {
  status: number;
  headers?: Record<string, string>;
  /** Holds the answer this long (the service's timeout may end the attempt first). */
  delayMs?: number;
  /** Runs before the answer is sent. */
  before?: () => Promise<void>;
}

export class WebhookReceiver {
  readonly received: ReceivedRequest[] = [];
  connections = 0;
  private readonly script: ScriptedReply[] = [];
  private readonly server: http.Server;

  private constructor() {
    this.server = http.createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        this.received.push({
          method: request.method ?? '',
          path: request.url ?? '',
          headers: request.headers,
          body: Buffer.concat(chunks),
          receivedAtMs: Date.now(),
        });
        void this.answer(response);
      });
    });
    this.server.on('connection', () => this.connections++);
  }

  static async start(): Promise<WebhookReceiver> {
    const receiver = new WebhookReceiver();
    await new Promise<void>((resolve) =>
      receiver.server.listen(0, '127.0.0.1', () => resolve()),
    );
    return receiver;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  url(path = '/hook'): string {
    return `http://127.0.0.1:${this.port}${path}`;
  }

  /** Answers the next requests in this order; once the script is spent, 204. */
  replyWith(...replies: ScriptedReply[]): void {
    this.script.push(...replies);
  }

  private async answer(response: http.ServerResponse): Promise<void> {
    const reply = this.script.shift() ?? { status: 204 };
    await reply.before?.();
    if (reply.delayMs) await new Promise((resolve) => setTimeout(resolve, reply.delayMs));
    if (response.destroyed) return;
    response.writeHead(reply.status, reply.headers).end();
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
  }
}

function sha256(data: Buffer): Buffer {
  return createHash('sha256').update(data).digest();
}

/** HMAC-SHA256 from its definition: H((K ^ opad) || H((K ^ ipad) || message)). */
export function hmacSha256(key: Buffer, message: Buffer): Buffer {
  const blockBytes = 64;
  const shortKey = key.length > blockBytes ? sha256(key) : key;
  const padded = Buffer.concat([shortKey, Buffer.alloc(blockBytes - shortKey.length)]);
  const xor = (pad: number) => Buffer.from(padded.map((byte) => byte ^ pad));

  const inner = sha256(Buffer.concat([xor(0x36), message]));
  return sha256(Buffer.concat([xor(0x5c), inner]));
}

/**
 * Verifies a request as a Standard Webhooks receiver does: the `v1,` signature over
 * `id.timestamp.body` with the secret, compared whole, and a timestamp within five
 * minutes of when the request arrived.
 */
export function signatureValid(request: ReceivedRequest, secret: string): boolean {
  const id = String(request.headers['webhook-id']);
  const timestamp = String(request.headers['webhook-timestamp']);
  const signed = Buffer.concat([Buffer.from(`${id}.${timestamp}.`), request.body]);
  const expected = hmacSha256(Buffer.from(secret, 'utf8'), signed).toString('base64');

  const fresh = Math.abs(Number(timestamp) * 1000 - request.receivedAtMs) <= 300_000;
  const offered = String(request.headers['webhook-signature']).split(' ');
  return fresh && offered.includes(`v1,${expected}`);
}

/** A resolver that knows only the given names, so no test ever asks real DNS. */
export function fixedLookup(
  names: Record<string, () => Array<{ address: string; family: 4 | 6 }>>,
): HostLookup {
  return async (hostname) => {
    const answer = names[hostname];
    if (answer === undefined) {
      throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), {
        code: 'ENOTFOUND',
      });
    }
    return answer();
  };
}

/** Waits until the job's delivery is no longer pending, and returns it. */
export async function deliveryEnded(
  service: RunningService,
  jobId: string,
  timeoutMs = 10_000,
): Promise<DeliveryStatus> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const status = await findDeliveryStatus(service.db, jobId);
    if (status !== undefined && status.state !== 'pending') return status;
    if (Date.now() > deadline) {
      throw new Error(`delivery of ${jobId} still ${status?.state ?? 'missing'}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

const JOB_ID = /<job_id>([^<]+)<\/job_id>/;

/** Sends a call with a callback_url (async by that alone) and returns its job id. */
export async function sendCallback(
  service: RunningService,
  params: Record<string, string>,
  method: 'GET' | 'POST' = 'POST',
): Promise<string> {
  const response = await callApi(service, { method, query: params });
  const jobId = JOB_ID.exec(response.body)?.[1];
  if (response.statusCode !== 202 || jobId === undefined) {
    throw new Error(`expected 202 with a job id, got ${response.statusCode}`);
  }
  return jobId;
}
