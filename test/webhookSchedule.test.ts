import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, loadConfig } from '../src/config.ts';
import type { AttemptOutcome } from '../src/webhook/postWebhook.ts';
import { judgeAttempt, retryAfterMs } from '../src/webhook/retrySchedule.ts';

/** Retry decisions, Retry-After and the webhook settings (../shared/DESIGN.md section 3). */

const NOW = Date.parse('2025-03-01T12:00:00Z');
const schedule = { backoffMs: [1_000, 60_000], retryAfterCapMs: 600_000 };

function answered(statusCode: number, retryAfter?: string): AttemptOutcome {
  return { kind: 'response', statusCode, retryAfter };
}

describe('Retry-After', () => {
  it('reads delay-seconds', () => {
    assert.equal(retryAfterMs('120', NOW), 120_000);
    assert.equal(retryAfterMs(' 0 ', NOW), 0);
  });

  it('reads an HTTP-date as the time left until it', () => {
    assert.equal(retryAfterMs('Sat, 01 Mar 2025 12:00:30 GMT', NOW), 30_000);
  });

  it('reads an HTTP-date already past as no wait', () => {
    assert.equal(retryAfterMs('Sat, 01 Mar 2025 11:00:00 GMT', NOW), 0);
  });

  it('ignores values that are neither', () => {
    for (const value of [undefined, '', '-5', '1.5', 'soon', '12abc']) {
      assert.equal(retryAfterMs(value, NOW), undefined, String(value));
    }
  });
});

describe('the verdict on an attempt', () => {
  it('calls every 2xx delivered', () => {
    for (const status of [200, 201, 202, 204, 299]) {
      assert.deepEqual(judgeAttempt(answered(status), 1, schedule, NOW), {
        kind: 'delivered',
      });
    }
  });

  it('retries 5xx, 429 and every error class after the step of the attempt', () => {
    const outcomes: AttemptOutcome[] = [
      answered(500),
      answered(503),
      answered(599),
      answered(429),
      { kind: 'error', errorClass: 'timeout' },
      { kind: 'error', errorClass: 'dns' },
      { kind: 'error', errorClass: 'network' },
    ];
    for (const outcome of outcomes) {
      assert.deepEqual(judgeAttempt(outcome, 1, schedule, NOW), {
        kind: 'retry',
        delayMs: 1_000,
      });
      assert.deepEqual(judgeAttempt(outcome, 2, schedule, NOW), {
        kind: 'retry',
        delayMs: 60_000,
      });
    }
  });

  it('waits for Retry-After when it asks for more than the step, up to the cap', () => {
    const wait = (retryAfter: string, attempt: number) =>
      judgeAttempt(answered(429, retryAfter), attempt, schedule, NOW);
    assert.deepEqual(wait('5', 1), { kind: 'retry', delayMs: 5_000 });
    assert.deepEqual(wait('5', 2), { kind: 'retry', delayMs: 60_000 });
    assert.deepEqual(wait('86400', 1), { kind: 'retry', delayMs: 600_000 });
    assert.deepEqual(
      judgeAttempt(answered(503, 'Sat, 01 Mar 2025 12:02:00 GMT'), 1, schedule, NOW),
      { kind: 'retry', delayMs: 120_000 },
    );
  });

  it('fails once the schedule is spent, naming the last ending', () => {
    assert.deepEqual(judgeAttempt(answered(502), 3, schedule, NOW), {
      kind: 'failed',
      reason: 'retries spent; the last attempt ended with HTTP 502',
    });
    assert.deepEqual(
      judgeAttempt({ kind: 'error', errorClass: 'dns' }, 3, schedule, NOW),
      {
        kind: 'failed',
        reason: 'retries spent; the last attempt ended with dns',
      },
    );
  });

  it('ends at once at 3xx, 410 and every 4xx but 429', () => {
    for (const status of [301, 302, 303, 307, 308, 400, 401, 403, 404, 410, 413, 422]) {
      assert.deepEqual(judgeAttempt(answered(status), 1, schedule, NOW), {
        kind: 'failed',
        reason: `the receiver answered HTTP ${status}`,
      });
    }
  });
});

describe('webhook settings', () => {
  it('defaults to a retry schedule of about a day', () => {
    const config = loadConfig({});
    const totalHours = config.WEBHOOK_BACKOFF_MS.reduce((sum, ms) => sum + ms, 0) / 3.6e6;
    assert.ok(totalHours > 20 && totalHours < 28, `${totalHours} h`);
    assert.equal(config.WEBHOOK_TIMEOUT_MS, 10_000);
    assert.deepEqual(config.WEBHOOK_ALLOWLIST, []);
  });

  it('reads WEBHOOK_BACKOFF_MS and WEBHOOK_ALLOWLIST as comma-separated lists', () => {
    const config = loadConfig({
      WEBHOOK_BACKOFF_MS: '100, 2000,30000',
      WEBHOOK_ALLOWLIST: '127.0.0.1, 10.0.0.0/8,hooks.test,::1',
    });
    assert.deepEqual(config.WEBHOOK_BACKOFF_MS, [100, 2_000, 30_000]);
    assert.deepEqual(config.WEBHOOK_ALLOWLIST, [
      '127.0.0.1',
      '10.0.0.0/8',
      'hooks.test',
      '::1',
    ]);
  });

  it('stops the start with one line per bad webhook value', () => {
    assert.throws(
      () =>
        loadConfig({
          WEBHOOK_BACKOFF_MS: '100,soon',
          WEBHOOK_ALLOWLIST: '10.0.0.0/33,bad host',
          WEBHOOK_TIMEOUT_MS: '5',
        }),
      (error: unknown) => {
        assert.ok(error instanceof ConfigError);
        assert.deepEqual(error.problems, [
          'WEBHOOK_BACKOFF_MS.1: Invalid input: expected number, received NaN',
          'WEBHOOK_TIMEOUT_MS: Too small: expected number to be >=100',
          'WEBHOOK_ALLOWLIST.0: "10.0.0.0/33" is not a CIDR range',
          'WEBHOOK_ALLOWLIST.1: "bad host" is not a host name, address or CIDR range',
        ]);
        return true;
      },
    );
  });
});
