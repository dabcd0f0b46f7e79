import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { pageXml, userCall } from '../harness.ts';
import {
  EMPTY_QUEUE,
  postCalls,
  report,
  Scenario,
  type ServiceProcess,
  sleep,
  waitFor,
  waitForNoPendingJob,
} from './support.ts';

/**
 * Scenario 1 of issue 3: a worker process is SIGKILLed again and again while 2,000
 * calls drain (../shared/DESIGN.md section 4). BullMQ runs a killed worker's jobs
 * again once their locks lapse; the effect must still happen once per job.
 */

const ADDED = pageXml('success', 'Record successfully added');
const TAKEN = pageXml('error', 'Speed dial must be unique');

const CALLS = 2_000;
/** Calls that repeat an earlier call's speed dial, so one of each pair is refused. */
const REPEATS = 10;

const WORKER_ENV = { WORKER_CONCURRENCY: '8' };

/** Distinct speed dials, except every 200th call repeats the speed dial 7 calls back. */
function buildCalls(): Record<string, string>[] {
  const calls: Record<string, string>[] = [];
  for (let index = 0; index < CALLS; index++) {
    const repeat = index % (CALLS / REPEATS) === CALLS / REPEATS - 1;
    const speeddial = repeat ? calls[index - 7]!.speeddial! : String(10_000 + index);
    calls.push(userCall({ speeddial }));
  }
  return calls;
}

interface KillLog {
  kills: number;
  /** Kills that hit a process which had finished at least one attempt. */
  killsWhileConsuming: number;
  /** The worker processes alive when the calls had drained. */
  survivors: ServiceProcess[];
  /** Each job's result as first read from the database, read after every kill. */
  firstSeen: Map<string, string>;
}

/**
 * Keeps two worker processes under fire until `drained`: in turn, waits until one has
 * finished an attempt, lets it run 1 to 2 s more, SIGKILLs it and starts a fresh one
 * in its place, so a worker always runs while the other restarts.
 */
async function killRepeatedly(
  scenario: Scenario,
  drained: () => Promise<boolean>,
): Promise<KillLog> {
  const workers = [
    scenario.spawn('worker', WORKER_ENV),
    scenario.spawn('worker', WORKER_ENV),
  ];
  let kills = 0;
  let killsWhileConsuming = 0;
  const firstSeen = new Map<string, string>();

  for (let turn = 0; !(await drained()); turn = 1 - turn) {
    const victim = workers[turn]!;
    const consuming = await waitFor(
      'a worker under fire to finish an attempt',
      async () => ((await drained()) ? 'drained' : victim.jobLines().length > 0),
      60_000,
      50,
    );
    if (consuming === 'drained') break;

    await sleep(1_000 + Math.random() * 1_000);
    victim.signal('SIGKILL');
    const exit = await victim.exited;
    assert.equal(exit.signal, 'SIGKILL');
    kills++;
    if (victim.jobLines().length > 0) killsWhileConsuming++;
    workers[turn] = scenario.spawn('worker', WORKER_ENV);

    for (const result of await scenario.storedResults()) {
      if (!firstSeen.has(result.jobId)) firstSeen.set(result.jobId, result.resultXml);
    }
  }
  return { kills, killsWhileConsuming, survivors: workers, firstSeen };
}

describe('fault: worker processes SIGKILLed while calls drain', () => {
  it('stores exactly one result per call and one record per success while a worker is killed every 1 to 2 s', async (t) => {
    const scenario = await Scenario.open(t);
    const { baseUrl } = await scenario.startIngress();

    const calls = buildCalls();
    const started = performance.now();
    let allStored = false;
    const drained = async () => (allStored ||= (await scenario.countResults()) >= CALLS);
    const firing = killRepeatedly(scenario, drained);

    // Sent over 10 s at least, so the workers are under fire for that long.
    const answers = await postCalls(baseUrl, calls, 16, CALLS / 10);
    const accepted = answers.filter((answer) => answer.status === 202);
    assert.equal(accepted.length, CALLS, 'every call is accepted with 202');
    const jobIds = accepted.map((answer) => answer.jobId!);
    assert.equal(new Set(jobIds).size, CALLS, 'every call has its own job');

    const { kills, killsWhileConsuming, survivors, firstSeen } = await firing;
    await scenario.waitForResults(CALLS, 120_000);
    const drainMs = performance.now() - started;

    assert.ok(
      survivors.every((worker) => worker.running),
      'the restarted workers are alive',
    );
    assert.ok(kills >= 3, `the worker was killed ${kills} times, at least 3`);
    assert.ok(killsWhileConsuming >= 3, 'at least 3 kills hit a consuming worker');

    const results = await scenario.storedResults();
    const byJob = new Map(results.map((result) => [result.jobId, result]));
    assert.equal(results.length, CALLS, 'one stored result per call');
    assert.deepEqual(
      jobIds.filter((jobId) => !byJob.has(jobId)),
      [],
      'every accepted job has its result',
    );

    const successes = results.filter((result) => result.success);
    assert.equal(successes.length, CALLS - REPEATS, 'one success per speed dial');
    for (const result of results) {
      assert.equal(result.resultXml, result.success ? ADDED : TAKEN);
    }
    assert.equal(await scenario.countRecords(), successes.length);
    assert.deepEqual(
      [...firstSeen].filter(([jobId, xml]) => byJob.get(jobId)?.resultXml !== xml),
      [],
      'no stored result changed after it was first read',
    );

    // A job killed after its commit stays active in Redis until it is re-run.
    const queue = scenario.openQueue();
    const counts = await waitForNoPendingJob(queue, 30_000);
    assert.deepEqual(counts, EMPTY_QUEUE, 'no job left or failed');

    // Every attempt any process logged, first or re-run, answered what is stored.
    const lines = scenario.jobLines();
    const reruns = lines.filter((line) => line.firstAttempt === false);
    const outcomeOf = (jobId: string) =>
      byJob.get(jobId)!.success
        ? 'Record successfully added'
        : 'Speed dial must be unique';
    const disagreeing = lines.filter((line) => line.outcome !== outcomeOf(line.jobId!));
    assert.deepEqual(disagreeing, [], 'no attempt answered other than the stored result');

    report(t, {
      calls: CALLS,
      results: results.length,
      successes: successes.length,
      records: successes.length,
      kills,
      'kills while consuming': killsWhileConsuming,
      'results read mid-drain and unchanged': firstSeen.size,
      'attempts logged': lines.length,
      're-runs answered from the stored result': reruns.length,
      'drained in (ms)': drainMs,
    });
  });
});
