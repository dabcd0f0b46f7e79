import net from 'node:net';

/**
 * A loopback port nobody listens on right now: bound by the system, then released.
 * Shared by the tests, the fault suite and the bench, which start servers of their own.
 */
export async function sparePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}
