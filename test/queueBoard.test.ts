import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { HIDDEN_JOB_DATA } from '../src/ingress/queueBoard.ts';
import { callApi, startTestService, userCall, type TestService } from './harness.ts';

/** The BullMQ dashboard at /admin/queues (issue 6). */

const USERNAME = 'queue-ops';
const PASSWORD = 'board-password-7c1e';
const BOARD = '/admin/queues';
const QUEUE = 'phonebook-record-create';

function basic(username: string, password: string): Record<string, string> {
  const encoded = Buffer.from(`${username}:${password}`, 'utf8').toString('base64');
  return { authorization: `Basic ${encoded}` };
}

const RIGHT = basic(USERNAME, PASSWORD);

/** An ingress without workers, so the calls it queues stay waiting. */
function startBoard(env: Record<string, string>): Promise<TestService> {
  return startTestService(env, { ingress: true, worker: false });
}

describe('the queue board without credentials configured', () => {
  let service: TestService;
  before(async () => {
    service = await startBoard({});
  });
  after(async () => {
    await service.dispose();
  });

  it('answers 404 at /admin/queues, whatever credentials are sent', async () => {
    for (const headers of [{}, RIGHT]) {
      const response = await service.app!.inject({ url: BOARD, headers });
      assert.equal(response.statusCode, 404);
    }
    const api = await service.app!.inject({ url: `${BOARD}/api/queues`, headers: RIGHT });
    assert.equal(api.statusCode, 404);
  });
});

describe('the queue board behind basic auth, read-only', () => {
  let service: TestService;
  let waiting: Record<string, string>;
  before(async () => {
    service = await startBoard({ BOARD_USERNAME: USERNAME, BOARD_PASSWORD: PASSWORD });
    waiting = userCall({ name: 'Board Probe', number: '37061112222' });
    const queued = await callApi(service, { query: { ...waiting, async: '1' } });
    assert.equal(queued.statusCode, 202);
  });
  after(async () => {
    await service.dispose();
  });

  it('answers 401 with a Basic challenge without credentials', async () => {
    const response = await service.app!.inject(BOARD);

    assert.equal(response.statusCode, 401);
    assert.equal(
      response.headers['www-authenticate'],
      'Basic realm="queues", charset="UTF-8"',
    );
  });

  it('answers 401 to a wrong password, a wrong username and a malformed header', async () => {
    for (const headers of [
      basic(USERNAME, `${PASSWORD}x`),
      basic('someone', PASSWORD),
      { authorization: `Bearer ${PASSWORD}` },
      { authorization: 'Basic %%%' },
    ]) {
      const response = await service.app!.inject({ url: BOARD, headers });
      assert.equal(response.statusCode, 401, JSON.stringify(headers));
    }
    const api = await service.app!.inject(`${BOARD}/api/queues`);
    assert.equal(api.statusCode, 401);
  });

  it('answers 200 with the dashboard page to the right credentials', async () => {
    const response = await service.app!.inject({ url: BOARD, headers: RIGHT });

    assert.equal(response.statusCode, 200);
    assert.match(String(response.headers['content-type']), /^text\/html/);
  });

  it('lists a waiting job without its data, so no hash, name or number', async () => {
    const response = await service.app!.inject({
      url: `${BOARD}/api/queues?activeQueue=${QUEUE}&status=waiting&page=1&jobsPerPage=10`,
      headers: RIGHT,
    });
    const queue = (
      response.json() as {
        queues: Array<{ name: string; jobs: Array<{ data: unknown }> }>;
      }
    ).queues.find((candidate) => candidate.name === QUEUE);

    assert.equal(response.statusCode, 200);
    assert.deepEqual(
      queue?.jobs.map((job) => job.data),
      [HIDDEN_JOB_DATA],
    );
    for (const probe of [waiting.hash!, 'Board Probe', '37061112222']) {
      assert.ok(!response.body.includes(probe), `the board shows ${probe}`);
    }
  });

  it('refuses to pause a queue with 405 and leaves it running', async () => {
    const response = await service.app!.inject({
      method: 'PUT',
      url: `${BOARD}/api/queues/${QUEUE}/pause`,
      headers: RIGHT,
    });

    assert.equal(response.statusCode, 405);
    assert.equal(await service.queue.isPaused(), false);
  });
});

describe('the queue board with BOARD_READ_ONLY=false', () => {
  let service: TestService;
  before(async () => {
    service = await startBoard({
      BOARD_USERNAME: USERNAME,
      BOARD_PASSWORD: PASSWORD,
      BOARD_READ_ONLY: 'false',
    });
  });
  after(async () => {
    await service.dispose();
  });

  it('pauses and resumes a queue for an authenticated user', async () => {
    const pause = await service.app!.inject({
      method: 'PUT',
      url: `${BOARD}/api/queues/${QUEUE}/pause`,
      headers: RIGHT,
    });
    assert.equal(pause.statusCode, 200);
    assert.equal(await service.queue.isPaused(), true);

    const resume = await service.app!.inject({
      method: 'PUT',
      url: `${BOARD}/api/queues/${QUEUE}/resume`,
      headers: RIGHT,
    });
    assert.equal(resume.statusCode, 200);
    assert.equal(await service.queue.isPaused(), false);
  });
});
