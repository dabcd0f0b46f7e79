import type { Redis } from 'ioredis';

/**
 * Fixed-window request counters in Redis, shared by every ingress process. A limit of
 * 0 turns that counter off. When Redis does not answer, requests pass: the enqueue
 * that follows answers 503 on its own, and a limiter must not turn a Redis blip into
 * refusals of its own.
 */

export interface RateLimits {
  windowMs: number;
  perCaller: number;
  perAddress: number;
}

export interface RateDecision {
  allowed: boolean;
  /** Seconds until the current window ends, for `Retry-After`. */
  retryAfterSeconds: number;
}

const ALLOWED: RateDecision = { allowed: true, retryAfterSeconds: 0 };

export class RateLimiter {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly limits: RateLimits,
  ) {}

  get enabled(): boolean {
    return this.limits.perCaller > 0 || this.limits.perAddress > 0;
  }

  /**
   * Counts one request against the caller's and the address's window. `caller` gives
   * a short digest (see callerKey), never a username itself; it is asked only while the
   * per-caller limit is on (a digest per request was 2% of the ingress's time, issue 7).
   */
  async check(caller: () => string, address: string): Promise<RateDecision> {
    if (!this.enabled) return ALLOWED;

    const now = Date.now();
    const window = Math.floor(now / this.limits.windowMs);
    const counters = [
      { limit: this.limits.perCaller, key: () => `caller:${caller()}` },
      { limit: this.limits.perAddress, key: () => `address:${address}` },
    ].filter((counter) => counter.limit > 0);

    const pipeline = this.redis.pipeline();
    for (const counter of counters) {
      const key = `${this.prefix}:rate:${counter.key()}:${window}`;
      pipeline.incr(key).pexpire(key, this.limits.windowMs * 2);
    }

    let replies: Array<[Error | null, unknown]> | null;
    try {
      replies = await pipeline.exec();
    } catch {
      return ALLOWED;
    }

    const exceeded = counters.some((counter, index) => {
      const [error, count] = replies?.[index * 2] ?? [null, 0];
      return error === null && Number(count) > counter.limit;
    });
    if (!exceeded) return ALLOWED;

    const windowEndsMs = (window + 1) * this.limits.windowMs;
    return {
      allowed: false,
      retryAfterSeconds: Math.max(1, Math.ceil((windowEndsMs - now) / 1000)),
    };
  }
}
