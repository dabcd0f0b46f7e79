import { EventEmitter } from 'node:events';
import type { Redis } from 'ioredis';

/**
 * Reads a BullMQ queue's event stream (`<prefix>:<queue>:events`) on a connection of
 * its own and emits `completed` and `failed`. BullMQ's QueueEvents would do, but it
 * cannot be closed while Redis is unreachable (its close waits for a connection that
 * never comes, and its duplicated client keeps reconnecting), which would keep a
 * stopping process alive. Reading resumes after the last event seen, so a reconnect
 * catches up on what the stream still holds.
 */

export interface CompletedEvent {
  jobId: string;
  returnvalue: unknown;
}

export interface FailedEvent {
  jobId: string;
  failedReason: string;
}

type StreamEntry = [id: string, fields: string[]];

const BLOCK_MS = 5_000;
const RETRY_DELAY_MS = 500;

function fieldsOf(entry: string[]): Map<string, string> {
  const fields = new Map<string, string>();
  for (let index = 0; index + 1 < entry.length; index += 2) {
    fields.set(entry[index] as string, entry[index + 1] as string);
  }
  return fields;
}

/**
 * Whether an event ends a job. BullMQ writes `event` first; most events (added,
 * waiting, active, drained) end none and are skipped without being read further.
 */
function endsJob(entry: string[]): boolean {
  const event = entry[0] === 'event' ? entry[1] : undefined;
  return event === undefined || event === 'completed' || event === 'failed';
}

function parseReturnValue(text: string | undefined): unknown {
  try {
    return text === undefined ? undefined : JSON.parse(text);
  } catch {
    return text;
  }
}

export class QueueEventReader extends EventEmitter<{
  completed: [CompletedEvent];
  failed: [FailedEvent];
}> {
  private closed = false;
  private lastId = '$';

  constructor(
    private readonly redis: Redis,
    private readonly streamKey: string,
  ) {
    super();
  }

  /**
   * Starts reading in the background. Resolves once the starting point (the newest
   * event now in the stream) is known, which waits for Redis when it is away.
   */
  start(): Promise<void> {
    const started = this.findStart();
    void started.then(() => this.readLoop());
    return started;
  }

  private async findStart(): Promise<void> {
    while (!this.closed) {
      try {
        const latest = (await this.redis.xrevrange(
          this.streamKey,
          '+',
          '-',
          'COUNT',
          1,
        )) as StreamEntry[];
        this.lastId = latest[0]?.[0] ?? '0-0';
        return;
      } catch {
        await this.pause();
      }
    }
  }

  private async pause(): Promise<void> {
    if (!this.closed) await new Promise((resolve) => setTimeout(resolve, RETRY_DELAY_MS));
  }

  close(): void {
    this.closed = true;
    this.redis.disconnect();
  }

  private async readLoop(): Promise<void> {
    while (!this.closed) {
      try {
        const reply = (await this.redis.xread(
          'BLOCK',
          BLOCK_MS,
          'STREAMS',
          this.streamKey,
          this.lastId,
        )) as Array<[string, StreamEntry[]]> | null;
        for (const [id, entry] of reply?.[0]?.[1] ?? []) {
          this.lastId = id;
          if (endsJob(entry)) this.dispatch(fieldsOf(entry));
        }
      } catch {
        if (!this.closed)
          await new Promise((resolve) => setTimeout(resolve, RETRY_DELAY_MS));
      }
    }
  }

  private dispatch(fields: Map<string, string>): void {
    const jobId = fields.get('jobId');
    if (jobId === undefined) return;

    const event = fields.get('event');
    if (event === 'completed') {
      this.emit('completed', {
        jobId,
        returnvalue: parseReturnValue(fields.get('returnvalue')),
      });
    } else if (event === 'failed') {
      this.emit('failed', { jobId, failedReason: fields.get('failedReason') ?? '' });
    }
  }
}
