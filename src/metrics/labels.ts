import { BOUNDS, MOR } from '../messages.ts';
import type { AttemptReport } from '../deliverWebhook.ts';

/**
 * Label values of the service's metrics. Each comes from a fixed set, so a series can
 * never be made per job, per caller or per anything a client sends: Prometheus keeps one
 * series per distinct label set, and user input in a label would also be a leak.
 */

/** The label of a value outside a fixed set. */
export const OTHER = 'other';

/** `2xx`, `4xx`, ... for an HTTP status; `other` outside 100 to 599. */
export function statusClass(statusCode: number): string {
  if (!Number.isInteger(statusCode) || statusCode < 100 || statusCode > 599) return OTHER;
  return `${Math.floor(statusCode / 100)}xx`;
}

/** Every text a stored result can carry: MOR's own and this service's bounds. */
export const ANSWER_TEXTS: ReadonlySet<string> = new Set(
  [...Object.values(MOR), ...Object.values(BOUNDS)].map((answer) => answer.text),
);

const ANSWER = /<(?:success|error)>([^<]*)</;

/** The text of a result's XML (`Record successfully added`, ...), from the fixed set. */
export function answerText(resultXml: string): string {
  const text = ANSWER.exec(resultXml)?.[1];
  return text !== undefined && ANSWER_TEXTS.has(text) ? text : OTHER;
}

/**
 * How a webhook attempt ended: the receiver's status class, the error class of an
 * attempt that got no answer (`timeout`, `dns`, `network`), or `refused` for an address
 * the policy refused (no socket opened). Undefined when nothing was attempted: the
 * delivery was not pending, or its scope had no secret to sign with.
 */
export function webhookOutcome(report: AttemptReport): string | undefined {
  const { outcome } = report;
  if (outcome?.kind === 'response') return statusClass(outcome.statusCode);
  if (outcome?.kind === 'error') return outcome.errorClass;
  if (report.state === 'refused') return 'refused';
  return undefined;
}
