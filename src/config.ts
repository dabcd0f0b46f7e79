import { z } from 'zod';

/**
 * Configuration, read from the environment once at start and validated. Every value
 * has a default that runs the service against Redis and Postgres on this machine.
 */

const integer = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

const fields = z.object({
  /** Postgres; the database is created when missing. */
  DATABASE_URL: z
    .string()
    .regex(/^postgres(?:ql)?:\/\//, 'must be a postgres:// URL')
    .default('postgres://postgres@127.0.0.1:5432/phonebook'),
  /** Redis for the BullMQ queues. */
  REDIS_URL: z
    .string()
    .regex(/^rediss?:\/\//, 'must be a redis:// URL')
    .default('redis://127.0.0.1:6379'),
  /** BullMQ key prefix. For Redis Cluster use a hash tag, e.g. `{phonebook}`. */
  QUEUE_PREFIX: z.string().min(1).max(100).default('phonebook'),
  /** HTTP port and address of the ingress. */
  PORT: integer(0, 65535).default(3000),
  HOST: z.string().min(1).default('127.0.0.1'),
  /** How long a sync request waits for its result before answering 202, in ms. */
  SYNC_WAIT_MS: integer(0, 300_000).default(10_000),
  /** How often a waiting sync request checks the stored result, in ms. */
  RESULT_POLL_MS: integer(50, 60_000).default(1_000),
  /** How long the ingress waits for Redis to accept a job before answering 503, in ms. */
  ENQUEUE_TIMEOUT_MS: integer(50, 60_000).default(1_000),
  /** Largest request body accepted, in bytes. */
  BODY_LIMIT_BYTES: integer(1_024, 10_485_760).default(65_536),
  /** Most params read from one query string or body. */
  MAX_PARAMS: integer(10, 100_000).default(1_000),
  /**
   * Requests per caller (`u`) and per client address allowed in one window, counted in
   * Redis across every ingress process; 0 turns a limit off.
   */
  RATE_LIMIT_WINDOW_MS: integer(100, 3_600_000).default(1_000),
  RATE_LIMIT_PER_CALLER: integer(0, 10_000_000).default(5_000),
  RATE_LIMIT_PER_ADDRESS: integer(0, 10_000_000).default(10_000),
  /** Slow-client bounds: all headers within the first, the whole request within the second, in ms. */
  HEADERS_TIMEOUT_MS: integer(1_000, 600_000).default(10_000),
  REQUEST_TIMEOUT_MS: integer(1_000, 600_000).default(30_000),
  /** Jobs one worker process runs at once. */
  WORKER_CONCURRENCY: integer(1, 1_000).default(16),
  /**
   * A worker holds a lock on each active job for this long, renewing it at half the
   * time; a job whose lock lapsed (its worker died) is found by the stalled-job check
   * every interval and run again, up to the count, before it fails for good. In ms.
   */
  WORKER_LOCK_MS: integer(1_000, 600_000).default(30_000),
  WORKER_STALLED_INTERVAL_MS: integer(500, 600_000).default(30_000),
  WORKER_MAX_STALLED_COUNT: integer(0, 1_000).default(5),
  /** Attempts per job for transient faults (database or Redis down), and the first backoff step in ms (doubling). */
  JOB_ATTEMPTS: integer(1, 100).default(10),
  JOB_BACKOFF_MS: integer(10, 3_600_000).default(1_000),
  /** How long stored results (and failed jobs in Redis) are kept, in hours. */
  RESULT_RETENTION_HOURS: integer(1, 24 * 365).default(168),
  /** How long idempotency keys are kept, in hours (at least a day). */
  IDEMPOTENCY_KEY_HOURS: integer(24, 24 * 365).default(24),
  /** How long SIGTERM waits for active requests and jobs before exiting, in ms. */
  SHUTDOWN_GRACE_MS: integer(0, 600_000).default(10_000),
  /** pino log level. */
  LOG_LEVEL: z
    .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
    .default('info'),
});

/**
 * A repeat of an idempotent call is answered from the stored result, so results must
 * outlive the keys that point at them.
 */
const schema = fields.refine(
  (config) => config.RESULT_RETENTION_HOURS >= config.IDEMPOTENCY_KEY_HOURS,
  {
    message: 'must be at least IDEMPOTENCY_KEY_HOURS',
    path: ['RESULT_RETENTION_HOURS'],
  },
);

export type Config = z.infer<typeof schema>;

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n${problems.join('\n')}`);
    this.name = 'ConfigError';
  }
}

/** Reads the configuration; throws ConfigError with one line per bad value. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const present = Object.fromEntries(
    Object.keys(fields.shape)
      .filter((key) => env[key] !== undefined && env[key] !== '')
      .map((key) => [key, env[key]]),
  );

  const parsed = schema.safeParse(present);
  if (parsed.success) return parsed.data;

  throw new ConfigError(
    parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`),
  );
}
