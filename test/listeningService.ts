import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { startTestService, type TestService } from './harness.ts';

/**
 * Services reached over real HTTP on the loopback interface, for the client and the
 * importer: the test service listening on a free port, and a stand-in server for
 * answers the real one cannot be made to give on demand (a 503 burst).
 */

export interface ListeningService {
  service: TestService;
  /** `http://127.0.0.1:PORT` */
  url: string;
}

export async function startListeningService(
  env: Record<string, string> = {},
): Promise<ListeningService> {
  const service = await startTestService(env);
  await service.app!.listen({ port: 0, host: '127.0.0.1' });
  const { port } = service.app!.server.address() as AddressInfo;
  return { service, url: `http://127.0.0.1:${port}` };
}

export interface StandInServer {
  url: string;
  /** Every request received: method, path, headers and body. */
  requests: Array<{
    method: string;
    url: string;
    headers: IncomingMessage['headers'];
    body: string;
  }>;
  close: () => Promise<void>;
}

/** A loopback server answering request N (from 0) with `answer(N)`. */
export async function startStandIn(
  answer: (index: number, response: ServerResponse) => void,
): Promise<StandInServer> {
  const requests: StandInServer['requests'] = [];
  const server = createServer((request, response) => {
    const received = {
      method: request.method ?? '',
      url: request.url ?? '',
      headers: request.headers,
      body: '',
    };
    const index = requests.push(received) - 1;
    request.setEncoding('utf8');
    request.on('data', (chunk: string) => (received.body += chunk));
    request.on('end', () => answer(index, response));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  const close = async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  return { url: `http://127.0.0.1:${port}`, requests, close };
}

/** A loopback port that nothing listens on: connections to it are refused. */
export async function closedPort(): Promise<string> {
  const standIn = await startStandIn(() => undefined);
  await standIn.close();
  return standIn.url;
}
