import type { Redis } from 'ioredis';

/**
 * Checks that Redis keeps what it is given (../shared/DESIGN.md section 4): no
 * eviction, and some persistence. Returns warnings, never throws: a managed Redis may
 * refuse CONFIG, which is itself worth a warning.
 */
export async function redisDurabilityWarnings(redis: Redis): Promise<string[]> {
  try {
    const [, policy] = (await redis.config('GET', 'maxmemory-policy')) as string[];
    const [, appendonly] = (await redis.config('GET', 'appendonly')) as string[];
    const [, save] = (await redis.config('GET', 'save')) as string[];

    const warnings: string[] = [];
    if (policy !== 'noeviction') {
      warnings.push(
        `Redis maxmemory-policy is ${policy}, not noeviction: queued jobs can be evicted`,
      );
    }
    if (appendonly !== 'yes' && !save) {
      warnings.push(
        'Redis persistence is off (no appendonly, no save): a restart loses queued jobs',
      );
    }
    return warnings;
  } catch {
    return ['Redis CONFIG GET is not allowed: eviction policy and persistence unknown'];
  }
}
