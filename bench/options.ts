/**
 * What the bench measures, and how much of it. A full run is the default;
 * `BENCH_QUICK=1` shrinks every size so a run takes about a minute (development and
 * the smoke check); `BENCH_SCALE` multiplies every size and duration of either;
 * the per-scenario variables set one size outright.
 */

export const SCENARIO_NAMES = ['ingest', 'endToEnd', 'sync', 'backlog'] as const;
export type ScenarioName = (typeof SCENARIO_NAMES)[number];

export interface BenchOptions {
  quick: boolean;
  scenarios: ScenarioName[];
  /** Calls sent to each system before it is measured (JIT, pools, caches). */
  warmupCalls: number;
  /** Scenario 1: how long each system takes calls, at this many connections. */
  ingestSeconds: number;
  ingestConnections: number;
  /** Scenario 2: distinct calls from the first request to the last stored result. */
  endToEndCalls: number;
  endToEndConnections: number;
  /** Scenario 3: how long each system answers sync calls, at this many connections. */
  syncSeconds: number;
  syncConnections: number;
  /** Scenario 4: calls queued while no worker takes them, then drained. */
  backlogCalls: number;
  backlogConnections: number;
  /** Scenarios 1 and 3: runs of each system, alternating, whose median is reported. */
  rounds: number;
  /** Connections in the reference's pg pool. */
  referencePoolSize: number;
  /** How often counts, memory and CPU are sampled while a run goes, in ms. */
  sampleMs: number;
}

function positive(name: string, fallback: number): number {
  const text = process.env[name];
  if (text === undefined || text === '') return fallback;
  const value = Number(text);
  if (!Number.isFinite(value) || value <= 0) {
    throw new Error(`${name} must be a positive number, not ${text}`);
  }
  return value;
}

function scenarios(): ScenarioName[] {
  const text = process.env.BENCH_SCENARIOS;
  if (text === undefined || text === '') return [...SCENARIO_NAMES];
  const names = text.split(',').map((name) => name.trim());
  for (const name of names) {
    if (!SCENARIO_NAMES.includes(name as ScenarioName)) {
      throw new Error(`BENCH_SCENARIOS: unknown scenario ${name} (${SCENARIO_NAMES})`);
    }
  }
  return names as ScenarioName[];
}

export function readOptions(): BenchOptions {
  const quick = process.env.BENCH_QUICK === '1';
  const scale = positive('BENCH_SCALE', 1);
  const sized = (name: string, full: number, small: number) =>
    Math.max(1, Math.round(positive(name, (quick ? small : full) * scale)));

  return {
    quick,
    scenarios: scenarios(),
    warmupCalls: sized('BENCH_WARMUP_CALLS', 3_000, 500),
    ingestSeconds: sized('BENCH_INGEST_SECONDS', 20, 3),
    ingestConnections: positive('BENCH_INGEST_CONNECTIONS', 64),
    endToEndCalls: sized('BENCH_E2E_CALLS', 50_000, 2_000),
    endToEndConnections: positive('BENCH_E2E_CONNECTIONS', 64),
    syncSeconds: sized('BENCH_SYNC_SECONDS', 20, 3),
    syncConnections: positive('BENCH_SYNC_CONNECTIONS', 32),
    backlogCalls: sized('BENCH_BACKLOG_CALLS', 200_000, 5_000),
    backlogConnections: positive('BENCH_BACKLOG_CONNECTIONS', 64),
    rounds: Math.round(positive('BENCH_ROUNDS', quick ? 1 : 2)),
    referencePoolSize: positive('BENCH_REFERENCE_POOL', 16),
    sampleMs: positive('BENCH_SAMPLE_MS', 200),
  };
}
