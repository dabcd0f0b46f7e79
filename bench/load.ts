import autocannon from 'autocannon';
import { callBody, CREATE_PATH, FORM_TYPE } from './calls.ts';

/**
 * The bench's load generator, a process of its own so it never shares an event loop
 * with what it measures: `node --import tsx bench/load.ts` with a LoadSpec as JSON in
 * BENCH_LOAD. It sends distinct signed calls to one base URL on 127.0.0.1 with
 * autocannon, a fixed number of connections each with one request in flight, and
 * writes one LoadResult as JSON on stdout.
 */

export interface LoadSpec {
  /** `http://127.0.0.1:PORT`; anything else is refused. */
  baseUrl: string;
  connections: number;
  /** Send exactly this many calls, or ... */
  amount?: number;
  /** ... send calls for this long. */
  durationSeconds?: number;
  /** Ask for 202 at once (`Prefer: respond-async`); the reference ignores it. */
  respondAsync: boolean;
  /** The first call's number: every call has its own speed dial from here on. */
  firstCall: number;
}

export interface LoadResult {
  startedAtMs: number;
  finishedAtMs: number;
  responses: number;
  statusCounts: Record<string, number>;
  errors: number;
  timeouts: number;
  latencyMs: { p50: number; p90: number; p99: number; max: number; mean: number };
  /** Responses per bucket of BUCKET_MS since the start, for the chart. */
  timeline: number[];
  bucketMs: number;
}

const BUCKET_MS = 250;
const LOOPBACK_URL = /^http:\/\/127\.0\.0\.1:\d+$/;

function readSpec(): LoadSpec {
  const spec = JSON.parse(process.env.BENCH_LOAD ?? '{}') as LoadSpec;
  if (!LOOPBACK_URL.test(spec.baseUrl ?? '')) {
    throw new Error(`load goes to http://127.0.0.1:PORT only, not ${spec.baseUrl}`);
  }
  return spec;
}

async function run(spec: LoadSpec): Promise<LoadResult> {
  let next = spec.firstCall;
  const headers: Record<string, string> = { 'content-type': FORM_TYPE };
  if (spec.respondAsync) headers.prefer = 'respond-async';

  const startedAtMs = Date.now();
  const timeline: number[] = [];
  const statusCounts: Record<string, number> = {};
  let finish: (result: autocannon.Result) => void = () => {};
  let fail: (error: unknown) => void = () => {};
  const done = new Promise<autocannon.Result>((resolve, reject) => {
    finish = resolve;
    fail = reject;
  });
  const options: autocannon.Options = {
    url: spec.baseUrl,
    connections: spec.connections,
    ...(spec.amount !== undefined
      ? { amount: spec.amount }
      : { duration: spec.durationSeconds ?? 10 }),
    timeout: 60,
    requests: [
      {
        method: 'POST',
        path: CREATE_PATH,
        headers,
        setupRequest: (request) => ({ ...request, body: callBody(next++) }),
      },
    ],
  };
  const instance = autocannon(options, (error, result) =>
    error ? fail(error) : finish(result),
  );
  instance.on('response', (_client, statusCode) => {
    const bucket = Math.floor((Date.now() - startedAtMs) / BUCKET_MS);
    while (timeline.length <= bucket) timeline.push(0);
    timeline[bucket] = (timeline[bucket] ?? 0) + 1;
    statusCounts[statusCode] = (statusCounts[statusCode] ?? 0) + 1;
  });

  const result = await done;
  return {
    startedAtMs,
    finishedAtMs: Date.now(),
    responses: Object.values(statusCounts).reduce((sum, count) => sum + count, 0),
    statusCounts,
    errors: result.errors,
    timeouts: result.timeouts,
    latencyMs: {
      p50: result.latency.p50,
      p90: result.latency.p90,
      p99: result.latency.p99,
      max: result.latency.max,
      mean: result.latency.mean,
    },
    timeline,
    bucketMs: BUCKET_MS,
  };
}

process.stdout.write(`${JSON.stringify(await run(readSpec()))}\n`);
