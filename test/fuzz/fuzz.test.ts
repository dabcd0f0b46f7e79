import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { BOUNDS, formatServiceError, MOR, SERVICE_ERRORS } from '../../src/messages.ts';
import { CALL_PARAM_NAMES } from '../../src/types.ts';
import { errorXml, morXml } from '../../src/xml.ts';
import { countRecords, startTestService, type TestService } from '../harness.ts';
import { fuzzRequest, seededRandom, type FuzzRequest } from './generate.ts';

/**
 * Hostile input (issue 5): every answer is a known MOR XML error or a 4xx with an XML
 * body; never a 5xx, a hung request, a failed job or a stored record. Seeded and
 * repeatable: FUZZ_SEED picks the sequence, FUZZ_REQUESTS its length.
 */

const SEED = Number(process.env.FUZZ_SEED ?? 20261204);
const REQUESTS = Number(process.env.FUZZ_REQUESTS ?? 20_000);
const CONCURRENCY = 32;
const REQUEST_BOUND_MS = 20_000;

const XML_TYPE = 'text/xml; charset=utf-8';
const PENDING =
  /^<\?xml version="1\.0" encoding="UTF-8"\?>\n<page>\n {2}<status>\n {4}<job_id>[0-9a-f-]{36}<\/job_id>\n {4}<state>(waiting|active|delayed)<\/state>\n {2}<\/status>\n<\/page>\n$/;

/** Every XML body the service may answer to invalid input. */
function knownBodies(): Set<string> {
  const bodies = new Set<string>();
  for (const answer of [...Object.values(MOR), ...Object.values(BOUNDS)])
    bodies.add(morXml(answer));
  for (const error of Object.values(SERVICE_ERRORS))
    bodies.add(errorXml(formatServiceError(error)));
  for (const name of [...CALL_PARAM_NAMES, 'async']) {
    bodies.add(errorXml(formatServiceError(SERVICE_ERRORS.paramNotText, name)));
  }
  for (const cause of ['database unavailable', 'internal error']) {
    bodies.add(errorXml(formatServiceError(SERVICE_ERRORS.jobFailed, cause)));
  }
  return bodies;
}

interface Tally {
  byStatus: Map<number, number>;
  problems: string[];
}

function describeRequest(request: FuzzRequest, index: number): string {
  return `#${index} ${request.method} ${request.url.slice(0, 80)} ${request.headers['content-type'] ?? ''}`;
}

describe(`fuzz: ${REQUESTS} hostile requests, seed ${SEED}`, () => {
  let service: TestService;
  before(async () => {
    service = await startTestService({
      RATE_LIMIT_PER_CALLER: '0',
      RATE_LIMIT_PER_ADDRESS: '0',
      WORKER_CONCURRENCY: '16',
      LOG_LEVEL: 'warn',
    });
  });
  after(async () => {
    await service.dispose();
  });

  it(
    'answers every request with a known XML body, never a 5xx, and stores nothing',
    { timeout: 600_000 },
    async () => {
      const random = seededRandom(SEED);
      // Made one at a time, in order, so the sequence is the seed's whatever the lanes do.
      let made = 0;
      const nextRequest = (): [FuzzRequest, number] | undefined =>
        made < REQUESTS ? [fuzzRequest(random), made++] : undefined;
      const bodies = knownBodies();
      const tally: Tally = { byStatus: new Map(), problems: [] };

      const check = (
        request: FuzzRequest,
        index: number,
        status: number,
        type: string | undefined,
        body: string,
      ) => {
        tally.byStatus.set(status, (tally.byStatus.get(status) ?? 0) + 1);
        const where = describeRequest(request, index);
        if (status >= 500)
          tally.problems.push(`${where}: HTTP ${status} ${body.slice(0, 160)}`);
        if (request.method === 'HEAD') return;
        if (type?.startsWith('application/json')) {
          const parsed = JSON.parse(body) as { error?: string; id?: string };
          if (parsed.error === undefined && parsed.id === undefined)
            tally.problems.push(`${where}: JSON ${body}`);
          return;
        }
        if (type !== XML_TYPE) tally.problems.push(`${where}: content type ${type}`);
        if (!bodies.has(body) && !PENDING.test(body))
          tally.problems.push(`${where}: body ${body.slice(0, 200)}`);
      };

      const runLane = async () => {
        for (let item = nextRequest(); item !== undefined; item = nextRequest()) {
          const [request, index] = item;
          const timeout = new Promise<never>((_, reject) =>
            setTimeout(
              () => reject(new Error(`${describeRequest(request, index)} hung`)),
              REQUEST_BOUND_MS,
            ).unref(),
          );
          const response = await Promise.race([
            service.app!.inject({
              method: request.method,
              url: request.url,
              headers: request.headers,
              ...(request.payload ? { payload: request.payload } : {}),
            }),
            timeout,
          ]);
          check(
            request,
            index,
            response.statusCode,
            response.headers['content-type'] as string | undefined,
            response.body,
          );
        }
      };
      await Promise.all(Array.from({ length: CONCURRENCY }, runLane));

      console.log(`fuzz statuses: ${JSON.stringify(Object.fromEntries(tally.byStatus))}`);
      console.log(
        service.logs.lines
          .filter((l) => l.includes('"level":40'))
          .slice(0, 10)
          .join('\n'),
      );
      assert.deepEqual(tally.problems.slice(0, 20), []);
      assert.equal(await countRecords(service), 0);

      const counts = await service.queue.getJobCounts('failed');
      assert.equal(counts.failed, 0, 'no job failed on input');
      const errorsLogged = service.logs.lines.filter((line) =>
        line.includes('"level":50'),
      );
      assert.deepEqual(errorsLogged.slice(0, 5), []);
    },
  );
});
