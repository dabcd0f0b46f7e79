import { ConfigError, loadConfig, type Config } from './config.ts';
import { seedDemo } from './db/seedDemo.ts';
import { createLogger } from './log.ts';
import { startService, type ServiceParts } from './service.ts';

/**
 * Entry point. `--ingress` or `--worker` runs one part (any number of each may run);
 * no flag runs both; `--demo` runs both after seeding the demo data.
 */

const EXAMPLE_QUERY =
  'u=username&user_id=2&name=phonebook&number=920355666&speeddial=666' +
  '&hash=1272cf77ba94153d59c87f699906e726277ff240';

function partsFromArgs(args: string[]): ServiceParts {
  if (args.includes('--ingress')) return { ingress: true, worker: false };
  if (args.includes('--worker')) return { ingress: false, worker: true };
  return { ingress: true, worker: true };
}

function readConfig(): Config {
  try {
    return loadConfig();
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    console.error(error.message);
    process.exit(2);
  }
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const config = readConfig();
  const log = createLogger(config.LOG_LEVEL);
  const service = await startService(config, log, partsFromArgs(args));

  if (args.includes('--demo')) await seedDemo(service.db);

  if (service.app !== undefined) {
    const address = await service.app.listen({ port: config.PORT, host: config.HOST });
    log.info({ address }, 'ingress listening');
    if (args.includes('--demo')) {
      const base = `http://127.0.0.1:${config.PORT}`;
      console.log(
        `\nDemo ready. The API page's example request:\n\n` +
          `  curl -X POST '${base}/billing/api/phonebook_record_create?${EXAMPLE_QUERY}'\n\n` +
          `Readiness: curl ${base}/readyz\n`,
      );
    }
  }

  if (service.healthApp !== undefined) {
    const address = await service.healthApp.listen({
      port: config.WORKER_HEALTH_PORT,
      host: config.HOST,
    });
    log.info({ address }, 'worker health listening');
  }

  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'stopping');
    setTimeout(() => process.exit(1), config.SHUTDOWN_GRACE_MS + 5_000).unref();
    service.stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

main().catch((error: unknown) => {
  console.error('failed to start:', error instanceof Error ? error.message : error);
  process.exit(1);
});
