import { loadConfig } from '../src/config.ts';
import { seedDemo } from '../src/db/seedDemo.ts';
import { createLogger } from '../src/log.ts';
import { startService } from '../src/service.ts';

/**
 * An ingress in a process of its own, for tests that must watch the process itself:
 * that it starts, answers and keeps running. The parent passes the configuration in
 * the environment, reads `listening <port>` on stdout and reads the log lines on
 * stderr. Closing stdin stops the service; the process then exits by itself once
 * nothing is left open.
 */

const config = loadConfig();
const log = createLogger(config.LOG_LEVEL, process.stderr);
const service = await startService(config, log, { ingress: true, worker: false });
await seedDemo(service.db);

await service.app!.listen({ port: 0, host: '127.0.0.1' });
const address = service.app!.server.address();
const port = typeof address === 'object' && address !== null ? address.port : 0;
process.stdout.write(`listening ${port}\n`);

process.stdin.resume();
process.stdin.on('end', () => void service.stop());
