import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { CREATE_PATH, equivalenceBodies, FORM_TYPE } from './calls.ts';
import { dropLeftoverDatabases, postgresVersion } from './databases.ts';
import { readOptions, type BenchOptions } from './options.ts';
import { loadAverage, REPO_ROOT, stopAll } from './processes.ts';
import { removeLeftoverRedisDirs } from './redisServer.ts';
import { chartSvg, formatCpu, formatTable } from './report.ts';
import { backlog, endToEnd, ingest, sync, type ScenarioReport } from './scenarios.ts';
import {
  startReference,
  startService,
  stopEverySystem,
  type RunningSystem,
} from './systems.ts';

/**
 * `npm run bench` (issue 7): the service against a plain synchronous reference, in
 * the same run on the same machine. Prints one table, writes it with every measured
 * detail as JSON, and a chart of throughput over time as SVG, to bench/results/.
 */

const RESULTS_DIR = path.join(REPO_ROOT, 'bench', 'results');

async function machine(options: BenchOptions) {
  const cpuModel =
    /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ??
    'unknown';
  const version = (command: string, args: string[]) => {
    try {
      return execFileSync(command, args, { encoding: 'utf8' }).trim();
    } catch {
      return 'unknown';
    }
  };
  return {
    cores: os.availableParallelism(),
    cpuModel,
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    node: process.version,
    postgres: await postgresVersion(),
    redis: version('redis-server', ['--version']),
    quick: options.quick,
  };
}

/** Removes the databases and Redis directories that killed bench runs left behind. */
async function removeLeftovers(): Promise<void> {
  const removed = [
    ...(await dropLeftoverDatabases()),
    ...(await removeLeftoverRedisDirs()),
  ];
  if (removed.length > 0) {
    console.error(`[bench] removed what killed runs left: ${removed.join(', ')}`);
  }
}

async function post(system: RunningSystem, body: string) {
  const response = await fetch(`${system.baseUrl}${CREATE_PATH}`, {
    method: 'POST',
    headers: { 'content-type': FORM_TYPE },
    body,
  });
  return `${response.status} ${response.headers.get('content-type')}\n${await response.text()}`;
}

/** Before measuring: the two systems answer the same calls with the same bytes. */
async function checkSameAnswers(options: BenchOptions): Promise<void> {
  const service = await startService(options);
  try {
    const reference = await startReference(options);
    try {
      for (const body of equivalenceBodies()) {
        const [fromService, fromReference] = [
          await post(service, body),
          await post(reference, body),
        ];
        if (fromService !== fromReference) {
          throw new Error(
            `the reference answers otherwise than the service:\n${fromService}\n---\n${fromReference}`,
          );
        }
      }
    } finally {
      await reference.stop();
    }
  } finally {
    await service.stop();
  }
}

async function runScenarios(options: BenchOptions): Promise<ScenarioReport[]> {
  const reports: ScenarioReport[] = [];
  const say = (text: string) =>
    console.error(`[bench] ${text} (load average ${loadAverage()})`);
  for (const name of options.scenarios) {
    say(`scenario ${name}`);
    if (name === 'ingest') reports.push(await ingest(options));
    if (name === 'endToEnd') reports.push(await endToEnd(options));
    if (name === 'sync') reports.push(await sync(options));
    if (name === 'backlog') {
      const endToEndReport = reports.find((report) => report.name === 'endToEnd');
      reports.push(await backlog(options, endToEndReport?.rows[0]?.reference));
    }
  }
  return reports;
}

async function main(): Promise<void> {
  const options = readOptions();
  await removeLeftovers();
  const startedAt = new Date();
  const facts = { ...(await machine(options)), loadAverageAtStart: loadAverage() };
  console.error(`[bench] ${JSON.stringify(facts)}`);

  await checkSameAnswers(options);
  const reports = await runScenarios(options);
  const table = formatTable(reports);
  const finishedAt = new Date();
  const summary = {
    startedAt: startedAt.toISOString(),
    finishedAt: finishedAt.toISOString(),
    machine: { ...facts, loadAverageAtEnd: loadAverage() },
    options,
    table,
    scenarios: reports,
  };

  await mkdir(RESULTS_DIR, { recursive: true });
  const stamp = startedAt.toISOString().replace(/[:.]/g, '-');
  const json = `${JSON.stringify(summary, null, 2)}\n`;
  await writeFile(path.join(RESULTS_DIR, `bench-${stamp}.json`), json);
  await writeFile(path.join(RESULTS_DIR, 'latest.json'), json);
  const caption =
    `${facts.cores} cores, ${facts.cpuModel}, node ${facts.node}; ` +
    `${startedAt.toISOString()}${options.quick ? ' (quick run)' : ''}`;
  await writeFile(path.join(RESULTS_DIR, 'throughput.svg'), chartSvg(reports, caption));

  console.log(table);
  console.log(`\nCPU time per call, by process (ms):\n${formatCpu(reports)}`);
  console.log(
    `\nload average ${facts.loadAverageAtStart} at start, ${summary.machine.loadAverageAtEnd} at end; ` +
      `written to bench/results/latest.json and bench/results/throughput.svg`,
  );
}

/** Removes whatever is left (processes, databases, Redis servers), then exits. */
async function cleanUpAndExit(code: number): Promise<never> {
  await stopEverySystem().catch((error: unknown) =>
    console.error('[bench] cleanup:', error),
  );
  await stopAll();
  process.exit(code);
}

const timeoutMinutes = Number(process.env.BENCH_TIMEOUT_MINUTES ?? 90);
setTimeout(() => {
  console.error(`[bench] stopped after ${timeoutMinutes} minutes`);
  void cleanUpAndExit(1);
}, timeoutMinutes * 60_000).unref();
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    console.error(`[bench] ${signal}: cleaning up`);
    void cleanUpAndExit(130);
  });
}

main().then(
  () => cleanUpAndExit(0),
  (error: unknown) => {
    console.error('[bench] failed:', error instanceof Error ? error.message : error);
    void cleanUpAndExit(1);
  },
);
