import { create } from 'xmlbuilder2';
import type { Framing, MorText } from './messages.ts';
import type { JobState } from './types.ts';

/**
 * The one serializer of every XML answer. MOR clients parse these bodies, so the layout
 * is fixed: XML declaration, two-space indent, a newline after every line.
 */

/** The content type of every XML answer, and of the body of every webhook. */
export const XML_TYPE = 'text/xml; charset=utf-8';

type StatusChild = Record<string, string>;

function render(framing: Framing, status: StatusChild): string {
  const root = create({ version: '1.0', encoding: 'UTF-8' });
  const parent = framing === 'page' ? root.ele('page') : root;
  const statusElement = parent.ele('status');

  for (const [name, text] of Object.entries(status)) {
    statusElement.ele(name).txt(text);
  }

  const xml = root.end({
    prettyPrint: true,
    indent: '  ',
    newline: '\n',
    wellFormed: true,
  });
  return `${xml}\n`;
}

/**
 * MOR answers rendered so far. Every MOR answer is a text of the catalogue in
 * messages.ts, so there are a few dozen at most; the worker, which answers every job
 * with one, renders each once (issue 7: rendering was a few per cent of its time).
 */
const renderedAnswers = new Map<string, string>();

/** A MOR answer: `<success>` for the stored record, `<error>` for everything else. */
export function morXml(answer: MorText, success = false): string {
  const key = `${answer.framing} ${success} ${answer.text}`;
  let xml = renderedAnswers.get(key);
  if (xml === undefined) {
    xml = render(answer.framing, { [success ? 'success' : 'error']: answer.text });
    renderedAnswers.set(key, xml);
  }
  return xml;
}

/** A bare `<status><error>` answer for this service's own errors. */
export function errorXml(text: string): string {
  return render('bare', { error: text });
}

/** Text that XML escaping leaves as it is: a job id is a UUID. */
const PLAIN_TEXT = /^[0-9A-Za-z-]+$/;
/** Stands for the job id in the answers rendered once per state. */
const JOB_ID_SLOT = 'JOB-ID-SLOT';
const pendingAnswers = new Map<JobState, [before: string, after: string]>();

/**
 * The answer for a job that has no result yet. The ingress answers every async call
 * with one, so each state's answer is rendered once and the job id set into it
 * (issue 7: rendering was a tenth of the ingress's time); an id that escaping could
 * change is rendered in full.
 */
export function pendingJobXml(jobId: string, state: JobState): string {
  if (!PLAIN_TEXT.test(jobId)) return render('page', { job_id: jobId, state });
  let parts = pendingAnswers.get(state);
  if (parts === undefined) {
    const [before = '', after = ''] = render('page', {
      job_id: JOB_ID_SLOT,
      state,
    }).split(JOB_ID_SLOT);
    parts = [before, after];
    pendingAnswers.set(state, parts);
  }
  return `${parts[0]}${jobId}${parts[1]}`;
}
