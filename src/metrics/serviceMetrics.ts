import type { Queue } from 'bullmq';
import { collectDefaultMetrics, Counter, Histogram, Registry } from 'prom-client';
import { statusClass } from './labels.ts';
import { mergeExpositions } from './mergeExposition.ts';
import { bullmqExpositions, registerQueueDepth } from './queueMetrics.ts';

/**
 * The Prometheus metrics of one service process, one registry each (so two services in
 * one test process count apart). Every label value comes from a fixed set (labels.ts).
 *
 * - `phonebook_http_requests_total{route,status_class,outcome}`: answered requests. The
 *   route is the matched pattern (`/billing/api/jobs/:id`, never the id) or
 *   `unmatched`; the outcome is the request's outcome (`completed`, `pending`, a
 *   service error code) or `none`.
 * - `phonebook_http_request_duration_seconds{route}`: time to answer.
 * - `phonebook_mor_answers_total{text}`: results stored, one per job, by answer text.
 * - `phonebook_job_duration_seconds{queue,outcome}`: attempts by how they ended:
 *   `completed`, `retry` (BullMQ runs the job again) or `failed` (for good).
 * - `phonebook_webhook_attempts_total{outcome}`: webhook attempts by status class or
 *   error class, `refused` for an address the policy refused.
 * - `phonebook_queue_jobs{queue,state}`: queue depth (queueMetrics.ts).
 * - BullMQ's own `bullmq_job_*` families, and prom-client's process and Node.js defaults.
 */

/** Job and request times run from milliseconds (a refused call) to the sync wait. */
const DURATION_BUCKETS_S = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

export type AttemptEnd = 'completed' | 'retry' | 'failed';

export class ServiceMetrics {
  readonly registry = new Registry();
  private readonly queues: Queue[];

  private readonly requests = new Counter({
    name: 'phonebook_http_requests_total',
    help: 'HTTP requests answered, by route pattern, status class and outcome',
    labelNames: ['route', 'status_class', 'outcome'],
    registers: [this.registry],
  });

  private readonly requestSeconds = new Histogram({
    name: 'phonebook_http_request_duration_seconds',
    help: 'Time to answer an HTTP request, by route pattern',
    labelNames: ['route'],
    buckets: DURATION_BUCKETS_S,
    registers: [this.registry],
  });

  private readonly answers = new Counter({
    name: 'phonebook_mor_answers_total',
    help: 'Results stored by workers, one per job, by MOR answer text',
    labelNames: ['text'],
    registers: [this.registry],
  });

  private readonly jobSeconds = new Histogram({
    name: 'phonebook_job_duration_seconds',
    help: 'Duration of job attempts, by queue and how the attempt ended',
    labelNames: ['queue', 'outcome'],
    buckets: DURATION_BUCKETS_S,
    registers: [this.registry],
  });

  private readonly webhookAttempts = new Counter({
    name: 'phonebook_webhook_attempts_total',
    help: 'Webhook attempts, by status class, error class or refused',
    labelNames: ['outcome'],
    registers: [this.registry],
  });

  /** `queues`: every queue whose depth is exposed, read at scrape time. */
  constructor(queues: Queue[]) {
    this.queues = queues;
    registerQueueDepth(this.registry, queues);
    collectDefaultMetrics({ register: this.registry });
  }

  countRequest(route: string, statusCode: number, outcome: string, seconds: number) {
    this.requests.inc({ route, status_class: statusClass(statusCode), outcome });
    this.requestSeconds.observe({ route }, seconds);
  }

  countAnswer(text: string): void {
    this.answers.inc({ text });
  }

  observeJob(queue: string, outcome: AttemptEnd, seconds: number): void {
    this.jobSeconds.observe({ queue, outcome }, seconds);
  }

  countWebhookAttempt(outcome: string): void {
    this.webhookAttempts.inc({ outcome });
  }

  /** The text Prometheus scrapes: this registry's families, then BullMQ's. */
  async exposition(): Promise<string> {
    const [own, bullmq] = await Promise.all([
      this.registry.metrics(),
      bullmqExpositions(this.queues),
    ]);
    return mergeExpositions([own, ...bullmq]);
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
