import { SERVICE_ERRORS } from '../messages.ts';

/**
 * Reads the text of an answer's `<success>` or `<error>` element. Every answer of this
 * service has a fixed layout built by one serializer (src/xml.ts), so a full XML
 * parser would add nothing but a dependency; entities are decoded as XML 1.0 defines.
 */

export interface Outcome {
  /**
   * `success`: the record was stored. `error`: MOR or this service refused the call;
   * `text` says why. `failed`: the job failed for good on transient faults (the
   * status endpoint's 503 `Job failed: CAUSE`); no MOR answer exists for it.
   */
  kind: 'success' | 'error' | 'failed';
  /** The element's text exactly as the service wrote it, entities decoded. */
  text: string;
}

const STATUS_ELEMENT = /<(success|error)>([^<]*)<\/\1>/;
const ENTITY = /&(?:#x([0-9a-fA-F]+)|#([0-9]+)|(lt|gt|amp|quot|apos));/g;
const NAMED: Record<string, string> = {
  lt: '<',
  gt: '>',
  amp: '&',
  quot: '"',
  apos: "'",
};

/** `Job failed: ` (src/messages.ts): the start of a job's final failure text. */
const JOB_FAILED_PREFIX = SERVICE_ERRORS.jobFailed.text.replace('%s', '');

function decodeEntities(text: string): string {
  return text.replace(ENTITY, (_match, hex?: string, decimal?: string, name?: string) => {
    if (name !== undefined) return NAMED[name] ?? '';
    return String.fromCodePoint(parseInt(hex ?? decimal ?? '0', hex ? 16 : 10));
  });
}

/** The outcome an answer's XML states, or undefined when it states none. */
export function readOutcome(xml: string): Outcome | undefined {
  const match = STATUS_ELEMENT.exec(xml);
  if (match === null) return undefined;

  const text = decodeEntities(match[2] ?? '');
  return { kind: match[1] === 'success' ? 'success' : 'error', text };
}

/** True for the text of a job that failed for good (a 503 that is final, not busy). */
export function isJobFailedText(text: string): boolean {
  return text.startsWith(JOB_FAILED_PREFIX);
}
