import { z } from 'zod';
import { allowlistEntryProblem } from './webhook/addressPolicy.ts';

/**
 * Configuration, read from the environment once at start and validated. Every value
 * has a default that runs the service against Redis and Postgres on this machine.
 */

const integer = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

const HOUR_MS = 3_600_000;

/** Comma-separated items, blanks around them dropped. */
const commaList = z.string().transform((text) =>
  text
    .split(',')
    .map((item) => item.trim())
    .filter(Boolean),
);

/**
 * The default wait before each webhook retry: 10 s, 1 min, 5 min, 30 min, 1 h, 3 h, 6 h,
 * 12 h. Nine attempts spread over about 23 hours, so a receiver that is down for a
 * night still gets its deliveries.
 */
export const DEFAULT_WEBHOOK_BACKOFF_MS = [
  10_000,
  60_000,
  300_000,
  1_800_000,
  HOUR_MS,
  3 * HOUR_MS,
  6 * HOUR_MS,
  12 * HOUR_MS,
];

const allowlistEntry = z.string().superRefine((entry, context) => {
  const problem = allowlistEntryProblem(entry);
  if (problem !== undefined) context.addIssue({ code: 'custom', message: problem });
});

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
  /**
   * About how many events each queue's event stream keeps (BullMQ trims it to this
   * length as it adds). Sync requests learn of their results from it; one whose event
   * was trimmed before its ingress read it learns at the next RESULT_POLL_MS read. A
   * job writes about four events, so the default holds the last 500 jobs or so.
   */
  QUEUE_EVENTS_MAX_LEN: integer(100, 1_000_000).default(2_000),
  /** HTTP port and address of the ingress. */
  PORT: integer(0, 65535).default(3000),
  HOST: z.string().min(1).default('127.0.0.1'),
  /** How long a sync request waits for its result before answering 202, in ms. */
  SYNC_WAIT_MS: integer(0, 300_000).default(10_000),
  /** How often a waiting sync request checks the stored result, in ms. */
  RESULT_POLL_MS: integer(50, 60_000).default(1_000),
  /**
   * How long the ingress waits for a connected but slow Redis to accept a job (or
   * answer a status read) before answering 503, in ms. A Redis that is not connected
   * is answered 503 at once, without waiting.
   */
  ENQUEUE_TIMEOUT_MS: integer(50, 60_000).default(3_000),
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
  /**
   * Jobs one worker process runs at once. They are stored in batches (see
   * WORKER_BATCH_MAX), so enough of them must run to fill two batches.
   */
  WORKER_CONCURRENCY: integer(1, 1_000).default(64),
  /**
   * Most of those jobs stored by one statement. At most 32: each job is a
   * subtransaction (two for a Global record), and past 64 of them Postgres slows
   * every snapshot.
   */
  WORKER_BATCH_MAX: integer(1, 32).default(32),
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
  /** Wait before each webhook retry in ms, comma-separated; one retry per step. */
  WEBHOOK_BACKOFF_MS: commaList
    .transform((items) => items.map(Number))
    .pipe(
      z
        .array(
          z
            .number()
            .int()
            .min(0)
            .max(7 * 24 * HOUR_MS),
        )
        .min(1)
        .max(50),
    )
    .default(DEFAULT_WEBHOOK_BACKOFF_MS),
  /** The longest wait a receiver's Retry-After can ask for, in ms. */
  WEBHOOK_RETRY_AFTER_CAP_MS: integer(0, 24 * HOUR_MS).default(HOUR_MS),
  /** Bound on one webhook attempt, DNS, connect and answer headers together, in ms. */
  WEBHOOK_TIMEOUT_MS: integer(100, 300_000).default(10_000),
  /** Host names, addresses and CIDR ranges a callback may reach despite the default refusals. */
  WEBHOOK_ALLOWLIST: commaList.pipe(z.array(allowlistEntry)).default([]),
  /** Webhook attempts one worker process runs at once. */
  WEBHOOK_CONCURRENCY: integer(1, 1_000).default(16),
  /**
   * How often the worker looks for pending deliveries that have no job (their worker
   * died between storing the result and queueing the delivery), in ms; a delivery is
   * looked at again no sooner than this after it was last queued.
   */
  WEBHOOK_SWEEP_MS: integer(100, 24 * HOUR_MS).default(60_000),
  /** Most deliveries one sweep queues. */
  WEBHOOK_SWEEP_BATCH: integer(1, 10_000).default(100),
  /** How long SIGTERM waits for active requests and jobs before exiting, in ms. */
  SHUTDOWN_GRACE_MS: integer(0, 600_000).default(10_000),
  /**
   * A process that runs only the workers serves `/healthz`, `/readyz` and `/metrics` on
   * this port, at HOST; 0 turns that server off. A process with the ingress serves them
   * on PORT instead.
   */
  WORKER_HEALTH_PORT: integer(0, 65535).default(3001),
  /**
   * How long a worker with a free slot may take and finish no job while jobs wait before
   * `/readyz` calls it not consuming, in ms.
   */
  WORKER_PROGRESS_TIMEOUT_MS: integer(100, 3_600_000).default(30_000),
  /**
   * HTTP basic auth of the queue dashboard at `/admin/queues`; with neither set the
   * dashboard is off (404). Both or neither.
   */
  // RFC 7617 section 2: a user-id cannot contain a colon.
  BOARD_USERNAME: z
    .string()
    .max(200)
    .regex(/^[^:]+$/, 'must not contain a colon')
    .optional(),
  BOARD_PASSWORD: z
    .string()
    .min(12, 'must be at least 12 characters')
    .max(200)
    .optional(),
  /** The dashboard shows the queues but changes nothing unless this is `false`. */
  BOARD_READ_ONLY: z
    .enum(['true', 'false'], 'must be true or false')
    .transform((value) => value === 'true')
    .default(true),
  /** pino log level. */
  LOG_LEVEL: z
    .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
    .default('info'),
});

/**
 * A repeat of an idempotent call is answered from the stored result, so results must
 * outlive the keys that point at them.
 */
const schema = fields
  .refine((config) => config.RESULT_RETENTION_HOURS >= config.IDEMPOTENCY_KEY_HOURS, {
    message: 'must be at least IDEMPOTENCY_KEY_HOURS',
    path: ['RESULT_RETENTION_HOURS'],
  })
  .refine((config) => config.BOARD_PASSWORD === undefined || config.BOARD_USERNAME, {
    message: 'must be set together with BOARD_PASSWORD',
    path: ['BOARD_USERNAME'],
  })
  .refine((config) => config.BOARD_USERNAME === undefined || config.BOARD_PASSWORD, {
    message: 'must be set together with BOARD_USERNAME',
    path: ['BOARD_PASSWORD'],
  });

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
