import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Scenario } from './faults/support.ts';
import { sparePort } from './sparePort.ts';
import { startTestService } from './harness.ts';

/** The worker-only process's own health port, WORKER_HEALTH_PORT (issue 6). */

const START_TIMEOUT_MS = 30_000;

describe('a worker-only process', () => {
  it('serves /healthz, /readyz and /metrics on WORKER_HEALTH_PORT and stops on SIGTERM', async (t) => {
    const scenario = await Scenario.open(t);
    const port = await sparePort();
    const worker = scenario.spawn('worker', { WORKER_HEALTH_PORT: String(port) });
    const listening = await worker.waitForLog(
      (line) => line.msg === 'worker health listening',
      START_TIMEOUT_MS,
    );
    const base = `http://127.0.0.1:${port}`;
    assert.equal(listening.address, base);

    const health = await fetch(`${base}/healthz`);
    assert.equal(health.status, 200);
    assert.deepEqual(await health.json(), { status: 'ok' });

    const ready = await fetch(`${base}/readyz`);
    const { checks } = (await ready.json()) as { checks: Record<string, string> };
    assert.equal(ready.status, 200);
    assert.equal(checks['worker:phonebook-record-create'], 'ok');
    assert.equal(checks['worker:webhook-deliveries'], 'ok');

    const metrics = await fetch(`${base}/metrics`);
    const text = await metrics.text();
    assert.equal(metrics.status, 200);
    assert.ok(text.includes('# TYPE phonebook_job_duration_seconds histogram'));
    assert.ok(
      text.includes(
        'phonebook_queue_jobs{queue="phonebook-record-create",state="waiting"} 0',
      ),
    );

    assert.equal((await fetch(`${base}/billing/api/jobs/x`)).status, 404);

    worker.signal('SIGTERM');
    assert.deepEqual(await worker.exitWithin(10_000), { code: 0, signal: null });
  });

  it('opens no health server when WORKER_HEALTH_PORT is 0, nor beside the ingress', async () => {
    const off = await startTestService(
      { WORKER_HEALTH_PORT: '0' },
      { ingress: false, worker: true },
    );
    try {
      assert.equal(off.healthApp, undefined);
    } finally {
      await off.dispose();
    }
    const both = await startTestService({ WORKER_HEALTH_PORT: '3001' });
    try {
      assert.equal(both.healthApp, undefined);
      assert.equal((await both.app!.inject('/readyz')).statusCode, 200);
    } finally {
      await both.dispose();
    }
  });
});
