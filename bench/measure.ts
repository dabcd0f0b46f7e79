import type { LoadResult, LoadSpec } from './load.ts';
import { baseEnvironment, nodeChild, sleep } from './processes.ts';

/**
 * Measuring tools shared by the scenarios: a load run in its own process, a sampler
 * that reads counts and memory while a run goes, and rates read from samples.
 */

/** Runs the load generator in a process of its own and returns what it measured. */
export async function runLoad(spec: LoadSpec): Promise<LoadResult> {
  const child = nodeChild('load', ['bench/load.ts'], {
    ...baseEnvironment(),
    BENCH_LOAD: JSON.stringify(spec),
  });
  const output = await child.output();
  return JSON.parse(output.trim().split('\n').pop() ?? '{}') as LoadResult;
}

/** Seconds a load run took, from its first request to its last answer. */
export function loadSeconds(load: LoadResult): number {
  return (load.finishedAtMs - load.startedAtMs) / 1000;
}

export function statusCount(load: LoadResult, status: number): number {
  return load.statusCounts[String(status)] ?? 0;
}

/** Per-second rates of a load run's answers: [seconds since start, answers per second]. */
export function loadTimeline(load: LoadResult, offsetMs = 0): Array<[number, number]> {
  const perSecond = 1000 / load.bucketMs;
  const points: Array<[number, number]> = [];
  for (let index = 0; index + perSecond <= load.timeline.length; index += perSecond) {
    const count = load.timeline
      .slice(index, index + perSecond)
      .reduce((sum, value) => sum + value, 0);
    points.push([(index * load.bucketMs + offsetMs) / 1000 + 1, count]);
  }
  return points;
}

export interface Sample {
  atMs: number;
  values: Record<string, number>;
}

/** Reads `probe` every interval until stopped; a failed read is skipped. */
export class Sampler {
  readonly samples: Sample[] = [];
  private stopped = false;
  private readonly loop: Promise<void>;

  constructor(
    private readonly probe: () => Promise<Record<string, number>>,
    private readonly intervalMs: number,
  ) {
    this.loop = this.run();
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      const started = Date.now();
      try {
        this.samples.push({ atMs: Date.now(), values: await this.probe() });
      } catch {
        // A missed sample leaves a gap; the next one reads the same counters.
      }
      await sleep(Math.max(0, this.intervalMs - (Date.now() - started)));
    }
  }

  /** The newest sample's value of `name`, or 0. */
  latest(name: string): number {
    return this.samples.at(-1)?.values[name] ?? 0;
  }

  max(name: string): number {
    return Math.max(0, ...this.samples.map((sample) => sample.values[name] ?? 0));
  }

  async stop(): Promise<Sample[]> {
    this.stopped = true;
    await this.loop;
    return this.samples;
  }
}

/**
 * When a counter sampled over time first reached `count`, in ms, interpolated
 * linearly between the two samples around it; undefined when it never did.
 */
export function timeReached(
  samples: Sample[],
  name: string,
  count: number,
): number | undefined {
  let previous: Sample | undefined;
  for (const sample of samples) {
    const value = sample.values[name] ?? 0;
    if (value >= count) {
      if (previous === undefined) return sample.atMs;
      const from = previous.values[name] ?? 0;
      const share = value === from ? 1 : (count - from) / (value - from);
      return previous.atMs + share * (sample.atMs - previous.atMs);
    }
    previous = sample;
  }
  return undefined;
}

/** Per-second rates of a sampled counter, over windows of one second, from `startMs`. */
export function sampledRates(
  samples: Sample[],
  name: string,
  startMs: number,
): Array<[number, number]> {
  const points: Array<[number, number]> = [];
  let windowStart: Sample | undefined;
  for (const sample of samples) {
    if (sample.atMs < startMs) continue;
    if (windowStart === undefined) {
      windowStart = sample;
      continue;
    }
    const elapsedMs = sample.atMs - windowStart.atMs;
    if (elapsedMs < 1000) continue;
    const counted = (sample.values[name] ?? 0) - (windowStart.values[name] ?? 0);
    points.push([(sample.atMs - startMs) / 1000, (counted * 1000) / elapsedMs]);
    windowStart = sample;
  }
  return points;
}
