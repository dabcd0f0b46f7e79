import { waitFor } from '../test/waitFor.ts';
import { countRecords, countResults } from './databases.ts';
import type { LoadResult, LoadSpec } from './load.ts';
import {
  loadSeconds,
  loadTimeline,
  runLoad,
  sampledRates,
  Sampler,
  statusCount,
  timeReached,
} from './measure.ts';
import type { BenchOptions, ScenarioName } from './options.ts';
import { loadAverage, rssBytes, sleep } from './processes.ts';
import {
  cpuUsed,
  startReference,
  startService,
  type RunningSystem,
  type ServiceStart,
  type SystemKind,
} from './systems.ts';

/**
 * The four scenarios of issue 7. Each measured run starts its system fresh (its own
 * database, and for the service its own Redis and queue prefix), warms it up with
 * the same calls, measures, checks that every call was stored, and removes it all.
 * The reference and the service are measured back to back in the same scenario, so
 * each ratio compares two runs minutes apart on the same machine.
 */

/** One line of the result table; the ratio is service / reference. */
export interface Row {
  figure: string;
  unit: string;
  service: number;
  reference: number | undefined;
  /** What the target asks and whether this run met it. */
  target?: { text: string; met: boolean };
}

export interface ChartSeries {
  name: string;
  points: Array<[number, number]>;
}

export interface ScenarioReport {
  name: ScenarioName;
  title: string;
  rows: Row[];
  /** Throughput over time, for the chart. */
  chart: { title: string; series: ChartSeries[] };
  /** Everything measured, for the JSON file. */
  details: Record<string, unknown>;
}

/** Calls of the measured runs start here; the warm-up's start at 0. */
const MEASURED_FIRST_CALL = 1_000_000;
const DRAIN_TIMEOUT_MS = 30 * 60_000;

interface RunFacts {
  loadAverage: number;
  cpuMs: Record<string, number>;
  cpuMsPerCall: Record<string, number>;
}

async function withSystem<T>(
  kind: SystemKind,
  options: BenchOptions,
  body: (system: RunningSystem) => Promise<T>,
  start: ServiceStart = {},
): Promise<T> {
  const system =
    kind === 'service'
      ? await startService(options, start)
      : await startReference(options);
  try {
    return await body(system);
  } finally {
    await system.stop();
  }
}

function load(
  system: RunningSystem,
  spec: Omit<LoadSpec, 'baseUrl'>,
): Promise<LoadResult> {
  return runLoad({ baseUrl: system.baseUrl, ...spec });
}

/** Waits until the system has stored `count` results (the service) or records. */
async function waitForStored(system: RunningSystem, count: number): Promise<void> {
  const counter = system.kind === 'service' ? countResults : countRecords;
  await waitFor(
    `${count} stored calls`,
    async () => (await counter(system.db)) >= count,
    DRAIN_TIMEOUT_MS,
    100,
  );
}

/** The same first calls to either system, all stored before anything is measured. */
async function warmUp(
  system: RunningSystem,
  options: BenchOptions,
  respondAsync: boolean,
): Promise<void> {
  await load(system, {
    connections: Math.min(32, options.warmupCalls),
    amount: options.warmupCalls,
    respondAsync,
    firstCall: 0,
  });
  if (system.processes.has('worker') || system.kind === 'reference') {
    await waitForStored(system, options.warmupCalls);
  }
}

/** Runs `measure` between two CPU snapshots; CPU per call counts `calls`. */
async function withFacts<T>(
  system: RunningSystem,
  measure: () => Promise<T>,
  calls: (result: T) => number,
): Promise<T & { facts: RunFacts }> {
  const average = loadAverage();
  const before = await system.cpuSnapshot();
  const result = await measure();
  const cpuMs = cpuUsed(before, await system.cpuSnapshot());
  const count = Math.max(1, calls(result));
  const cpuMsPerCall = Object.fromEntries(
    Object.entries(cpuMs).map(([part, ms]) => [part, ms / count]),
  );
  return { ...result, facts: { loadAverage: average, cpuMs, cpuMsPerCall } };
}

function ratioTarget(text: string, ratio: number, minimum: number) {
  return { text, met: ratio >= minimum };
}

/** The answer every measured call must get: 202 (service, async) or 200. */
function expectAnswers(load: LoadResult, status: number, what: string): void {
  const other = load.responses - statusCount(load, status);
  if (other > 0 || load.errors > 0) {
    throw new Error(
      `${what}: ${other} answers other than ${status} (${JSON.stringify(load.statusCounts)}), ${load.errors} errors`,
    );
  }
}

/**
 * Runs each system `rounds` times, reference first in odd rounds and service first in
 * even ones, so the machine's drift over a scenario weighs on both alike; each figure
 * is then the median of a system's runs (issue 7: on a shared VM the reference's rate
 * moved by a third from one run to the next).
 */
async function inRounds<T>(
  rounds: number,
  run: (kind: SystemKind) => Promise<T>,
): Promise<Record<SystemKind, T[]>> {
  const runs: Record<SystemKind, T[]> = { reference: [], service: [] };
  for (let round = 0; round < rounds; round++) {
    const order: SystemKind[] =
      round % 2 === 0 ? ['reference', 'service'] : ['service', 'reference'];
    for (const kind of order) runs[kind].push(await run(kind));
  }
  return runs;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? sorted[middle]!
    : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/** Every run by name (`service1`, `service2`, …; the bare kind when it ran once). */
function runsByName<T>(runs: Record<SystemKind, T[]>): Record<string, T> {
  return Object.fromEntries(
    Object.entries(runs).flatMap(([kind, list]) =>
      list.map((run, index) => [list.length === 1 ? kind : `${kind}${index + 1}`, run]),
    ),
  );
}

function roundsText(rounds: number): string {
  return rounds === 1 ? '' : `, median of ${rounds} runs each`;
}

// Scenario 1 ------------------------------------------------------------------

async function ingestRun(
  kind: SystemKind,
  options: BenchOptions,
  start: ServiceStart = {},
) {
  return withSystem(
    kind,
    options,
    async (system) => {
      await warmUp(system, options, true);
      const storedBefore =
        kind === 'service'
          ? await countResults(system.db)
          : await countRecords(system.db);
      const run = await withFacts(
        system,
        async () => ({
          load: await load(system, {
            connections: options.ingestConnections,
            durationSeconds: options.ingestSeconds,
            respondAsync: true,
            firstCall: MEASURED_FIRST_CALL,
          }),
        }),
        ({ load: result }) => result.responses,
      );
      const accepted = kind === 'service' ? 202 : 200;
      expectAnswers(run.load, accepted, `${kind} ingest`);
      const stored =
        (kind === 'service'
          ? await countResults(system.db)
          : await countRecords(system.db)) - storedBefore;
      const seconds = loadSeconds(run.load);
      return {
        perSecond: statusCount(run.load, accepted) / seconds,
        storedPerSecond: stored / seconds,
        seconds,
        load: run.load,
        facts: run.facts,
      };
    },
    start,
  );
}

export async function ingest(options: BenchOptions): Promise<ScenarioReport> {
  const runs = await inRounds(options.rounds, (kind) => ingestRun(kind, options));
  const ingressAlone = await ingestRun('service', options, { worker: false });
  const figures = (kind: SystemKind) => ({
    perSecond: median(runs[kind].map((run) => run.perSecond)),
    storedPerSecond: median(runs[kind].map((run) => run.storedPerSecond)),
  });
  const reference = figures('reference');
  const service = figures('service');
  const ratio = service.perSecond / reference.perSecond;
  return {
    name: 'ingest',
    title: `1. Async ingest at ${options.ingestConnections} connections, ${options.ingestSeconds} s${roundsText(options.rounds)}`,
    rows: [
      {
        figure: 'calls accepted (202) per second, worker running',
        unit: 'calls/s',
        service: service.perSecond,
        reference: reference.perSecond,
        target: ratioTarget('≥ 3x', ratio, 3),
      },
      {
        figure: 'results stored per second meanwhile',
        unit: 'calls/s',
        service: service.storedPerSecond,
        reference: reference.storedPerSecond,
      },
      {
        figure: 'calls accepted (202) per second, worker stopped',
        unit: 'calls/s',
        service: ingressAlone.perSecond,
        reference: reference.perSecond,
        target: ratioTarget('≥ 3x', ingressAlone.perSecond / reference.perSecond, 3),
      },
    ],
    chart: {
      title: 'Async ingest: answers per second',
      series: [
        {
          name: 'service, 202s (worker running)',
          points: loadTimeline(runs.service[0]!.load),
        },
        {
          name: 'service, 202s (worker stopped)',
          points: loadTimeline(ingressAlone.load),
        },
        { name: 'reference, 200s', points: loadTimeline(runs.reference[0]!.load) },
      ],
    },
    details: { ...runsByName(runs), ingressAlone },
  };
}

// Scenario 2 ------------------------------------------------------------------

async function endToEndService(options: BenchOptions) {
  return withSystem('service', options, async (system) => {
    await warmUp(system, options, true);
    const total = options.warmupCalls + options.endToEndCalls;
    const sampler = new Sampler(
      async () => ({ results: await countResults(system.db) }),
      options.sampleMs,
    );
    const run = await withFacts(
      system,
      async () => {
        const result = await load(system, {
          connections: options.endToEndConnections,
          amount: options.endToEndCalls,
          respondAsync: true,
          firstCall: MEASURED_FIRST_CALL,
        });
        await waitFor(
          'every result stored',
          () => sampler.latest('results') >= total,
          DRAIN_TIMEOUT_MS,
          20,
        );
        return { load: result };
      },
      () => options.endToEndCalls,
    );
    const samples = await sampler.stop();
    expectAnswers(run.load, 202, 'service end to end');
    const doneAtMs = timeReached(samples, 'results', total) ?? Date.now();
    const seconds = (doneAtMs - run.load.startedAtMs) / 1000;

    const [records, failed] = await Promise.all([
      countRecords(system.db),
      system.queue!.getJobCountByTypes('failed'),
    ]);
    if (records !== total || failed !== 0) {
      throw new Error(
        `service end to end: ${records} records of ${total}, ${failed} failed jobs`,
      );
    }
    return {
      perSecond: options.endToEndCalls / seconds,
      ingestSeconds: loadSeconds(run.load),
      seconds,
      load: run.load,
      facts: run.facts,
      timeline: sampledRates(samples, 'results', run.load.startedAtMs),
    };
  });
}

async function endToEndReference(options: BenchOptions) {
  return withSystem('reference', options, async (system) => {
    await warmUp(system, options, true);
    const run = await withFacts(
      system,
      async () => ({
        load: await load(system, {
          connections: options.endToEndConnections,
          amount: options.endToEndCalls,
          respondAsync: true,
          firstCall: MEASURED_FIRST_CALL,
        }),
      }),
      () => options.endToEndCalls,
    );
    expectAnswers(run.load, 200, 'reference end to end');
    const records = await countRecords(system.db);
    const total = options.warmupCalls + options.endToEndCalls;
    if (records !== total) {
      throw new Error(`reference end to end: ${records} records of ${total}`);
    }
    const seconds = loadSeconds(run.load);
    return {
      perSecond: options.endToEndCalls / seconds,
      seconds,
      load: run.load,
      facts: run.facts,
      timeline: loadTimeline(run.load),
    };
  });
}

export async function endToEnd(options: BenchOptions): Promise<ScenarioReport> {
  const service = await endToEndService(options);
  const reference = await endToEndReference(options);
  const ratio = service.perSecond / reference.perSecond;
  return {
    name: 'endToEnd',
    title: `2. End to end: ${options.endToEndCalls} distinct calls at ${options.endToEndConnections} connections`,
    rows: [
      {
        figure: 'records committed per second, first request to last stored result',
        unit: 'calls/s',
        service: service.perSecond,
        reference: reference.perSecond,
        target: ratioTarget('≥ 1.2x (aim 2x)', ratio, 1.2),
      },
      {
        figure: 'seconds for all calls',
        unit: 's',
        service: service.seconds,
        reference: reference.seconds,
      },
    ],
    chart: {
      title: 'End to end: records committed per second',
      series: [
        { name: 'service', points: service.timeline },
        { name: 'reference', points: reference.timeline },
      ],
    },
    details: { service, reference },
  };
}

// Scenario 3 ------------------------------------------------------------------

async function syncRun(kind: SystemKind, options: BenchOptions) {
  return withSystem(kind, options, async (system) => {
    await warmUp(system, options, false);
    const run = await withFacts(
      system,
      async () => ({
        load: await load(system, {
          connections: options.syncConnections,
          durationSeconds: options.syncSeconds,
          respondAsync: false,
          firstCall: MEASURED_FIRST_CALL,
        }),
      }),
      ({ load: result }) => result.responses,
    );
    expectAnswers(run.load, 200, `${kind} sync`);
    return {
      perSecond: statusCount(run.load, 200) / loadSeconds(run.load),
      latencyMs: run.load.latencyMs,
      load: run.load,
      facts: run.facts,
    };
  });
}

export async function sync(options: BenchOptions): Promise<ScenarioReport> {
  const runs = await inRounds(options.rounds, (kind) => syncRun(kind, options));
  const figures = (kind: SystemKind) => ({
    perSecond: median(runs[kind].map((run) => run.perSecond)),
    latencyMs: {
      p50: median(runs[kind].map((run) => run.latencyMs.p50)),
      p99: median(runs[kind].map((run) => run.latencyMs.p99)),
    },
  });
  const reference = figures('reference');
  const service = figures('service');
  const throughput = service.perSecond / reference.perSecond;
  const p99 = service.latencyMs.p99 / reference.latencyMs.p99;
  return {
    name: 'sync',
    title: `3. Sync mode at ${options.syncConnections} connections, ${options.syncSeconds} s${roundsText(options.rounds)}`,
    rows: [
      {
        figure: 'calls answered (200) per second',
        unit: 'calls/s',
        service: service.perSecond,
        reference: reference.perSecond,
        target: ratioTarget('≥ 0.8x', throughput, 0.8),
      },
      {
        figure: 'latency p50',
        unit: 'ms',
        service: service.latencyMs.p50,
        reference: reference.latencyMs.p50,
      },
      {
        figure: 'latency p99',
        unit: 'ms',
        service: service.latencyMs.p99,
        reference: reference.latencyMs.p99,
        target: { text: '≤ 2x', met: p99 <= 2 },
      },
    ],
    chart: {
      title: 'Sync mode: answers per second',
      series: [
        { name: 'service', points: loadTimeline(runs.service[0]!.load) },
        { name: 'reference', points: loadTimeline(runs.reference[0]!.load) },
      ],
    },
    details: runsByName(runs),
  };
}

// Scenario 4 ------------------------------------------------------------------

export async function backlog(
  options: BenchOptions,
  referencePerSecond: number | undefined,
): Promise<ScenarioReport> {
  const measured = await withSystem('service', options, async (system) => {
    await warmUp(system, options, true);
    const queue = system.queue!;
    const worker = system.processes.get('worker')!;
    await queue.pause();
    await sleep(1_000);

    const redisStart = await system.redis!.usedMemory();
    const redisAtStart = {
      memory: await system.redis!.memoryBreakdown(),
      keys: await system.redis!.keyUsage(),
    };
    const rssStart = rssBytes(worker.pid);
    const sampler = new Sampler(
      async () => ({
        results: await countResults(system.db),
        redisBytes: await system.redis!.usedMemory(),
        workerRss: rssBytes(worker.pid),
      }),
      options.sampleMs,
    );

    const enqueue = await load(system, {
      connections: options.backlogConnections,
      amount: options.backlogCalls,
      respondAsync: true,
      firstCall: MEASURED_FIRST_CALL,
    });
    expectAnswers(enqueue, 202, 'backlog enqueue');
    const queued = await queue.getJobCountByTypes('waiting', 'paused', 'prioritized');

    const total = options.warmupCalls + options.backlogCalls;
    const resumedAtMs = Date.now();
    const average = loadAverage();
    const cpuBefore = await system.cpuSnapshot();
    await queue.resume();
    await waitFor(
      'the backlog drained',
      () => sampler.latest('results') >= total,
      DRAIN_TIMEOUT_MS,
      20,
    );
    const cpuMs = cpuUsed(cpuBefore, await system.cpuSnapshot());
    await sleep(3_000);
    const samples = await sampler.stop();

    const tenth = options.backlogCalls / 10;
    const at = (count: number) =>
      timeReached(samples, 'results', options.warmupCalls + count);
    const firstTenthMs = (at(tenth) ?? NaN) - resumedAtMs;
    const lastTenthMs =
      (at(options.backlogCalls) ?? NaN) - (at(options.backlogCalls - tenth) ?? NaN);
    const drainMs = (at(options.backlogCalls) ?? NaN) - resumedAtMs;

    const records = await countRecords(system.db);
    const failed = await queue.getJobCountByTypes('failed');
    if (records !== total || failed !== 0) {
      throw new Error(`backlog: ${records} records of ${total}, ${failed} failed jobs`);
    }
    return {
      queued,
      enqueuePerSecond: statusCount(enqueue, 202) / loadSeconds(enqueue),
      drainPerSecond: (options.backlogCalls * 1000) / drainMs,
      firstTenthPerSecond: (tenth * 1000) / firstTenthMs,
      lastTenthPerSecond: (tenth * 1000) / lastTenthMs,
      redis: {
        start: redisStart,
        peak: Math.max(redisStart, ...samples.map((s) => s.values.redisBytes ?? 0)),
        after: await system.redis!.usedMemory(),
      },
      redisAtStart,
      redisAfter: {
        memory: await system.redis!.memoryBreakdown(),
        keys: await system.redis!.keyUsage(),
      },
      workerRss: {
        start: rssStart,
        peak: Math.max(rssStart, ...samples.map((s) => s.values.workerRss ?? 0)),
        after: rssBytes(worker.pid),
      },
      facts: {
        loadAverage: average,
        cpuMs,
        cpuMsPerCall: Object.fromEntries(
          Object.entries(cpuMs).map(([part, ms]) => [part, ms / options.backlogCalls]),
        ),
      },
      enqueue,
      timeline: sampledRates(samples, 'results', resumedAtMs),
      enqueueTimeline: loadTimeline(enqueue),
    };
  });

  const m = measured;
  const mib = (bytes: number) => bytes / 1024 / 1024;
  const lastOverFirst = m.lastTenthPerSecond / m.firstTenthPerSecond;
  const redisGrowth = m.redis.after / m.redis.start;
  const rssGrowth = m.workerRss.after / m.workerRss.start;
  return {
    name: 'backlog',
    title: `4. Backlog: ${options.backlogCalls} calls queued with the worker paused, then drained`,
    rows: [
      {
        figure: 'calls queued per second (202), worker paused',
        unit: 'calls/s',
        service: m.enqueuePerSecond,
        reference: referencePerSecond,
      },
      {
        figure: 'drain: records per second, whole backlog',
        unit: 'calls/s',
        service: m.drainPerSecond,
        reference: referencePerSecond,
      },
      {
        figure: 'drain: first tenth',
        unit: 'calls/s',
        service: m.firstTenthPerSecond,
        reference: referencePerSecond,
      },
      {
        figure: 'drain: last tenth',
        unit: 'calls/s',
        service: m.lastTenthPerSecond,
        reference: referencePerSecond,
        target: {
          text: `within 20% of the first tenth (${lastOverFirst.toFixed(2)}x)`,
          met: Math.abs(lastOverFirst - 1) <= 0.2,
        },
      },
      {
        figure: 'Redis used_memory at start',
        unit: 'MiB',
        service: mib(m.redis.start),
        reference: undefined,
      },
      {
        figure: 'Redis used_memory at peak',
        unit: 'MiB',
        service: mib(m.redis.peak),
        reference: undefined,
      },
      {
        figure: 'Redis used_memory after the drain',
        unit: 'MiB',
        service: mib(m.redis.after),
        reference: undefined,
        target: {
          text: `within 10% of start (${redisGrowth.toFixed(2)}x)`,
          met: Math.abs(redisGrowth - 1) <= 0.1,
        },
      },
      {
        figure: 'worker RSS at start',
        unit: 'MiB',
        service: mib(m.workerRss.start),
        reference: undefined,
      },
      {
        figure: 'worker RSS at peak',
        unit: 'MiB',
        service: mib(m.workerRss.peak),
        reference: undefined,
      },
      {
        figure: 'worker RSS after the drain',
        unit: 'MiB',
        service: mib(m.workerRss.after),
        reference: undefined,
        target: {
          text: `growth ≤ 20% (${rssGrowth.toFixed(2)}x)`,
          met: rssGrowth <= 1.2,
        },
      },
    ],
    chart: {
      title: 'Backlog: queued, then drained, per second',
      series: [
        { name: 'service, queued (202)', points: m.enqueueTimeline },
        {
          name: 'service, drained (stored)',
          points: m.timeline.map(([s, v]) => [s + loadSeconds(m.enqueue), v]),
        },
      ],
    },
    details: { ...m, enqueue: m.enqueue, timeline: m.timeline },
  };
}
