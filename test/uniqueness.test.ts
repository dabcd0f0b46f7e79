import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Knex } from 'knex';
import {
  pageXml,
  signedPath,
  startTestService,
  waitFor,
  type TestService,
} from './harness.ts';

/**
 * Speed dial uniqueness (../shared/DESIGN.md section 2, "Whose record it is"): a user's
 * speed dial is unique among its own records, and a new Global record (user 0) must not
 * repeat any record's speed dial. Each test uses speed dials of its own.
 */

interface Caller {
  u: string;
  secret: string;
}

/** Demo callers (DESIGN.md section 6): user 2 and the admin sign with the global key. */
const USER_2: Caller = { u: 'username', secret: 'secret' };
const USER_5: Caller = { u: 'user_reseller', secret: 'rsecret' };
const ADMIN: Caller = { u: 'admin', secret: 'secret' };
const GLOBAL = '0';

const ADDED = pageXml('success', 'Record successfully added');
const TAKEN = pageXml('error', 'Speed dial must be unique');

let service: TestService;

before(async () => {
  service = await startTestService();
});

after(async () => {
  await service.dispose();
});

/** Sends one create call and waits for its answer (sync mode). */
async function create(caller: Caller, userId: string, speeddial: string) {
  const fields = { user_id: userId, number: '5550100', name: 'Front desk', speeddial };
  const response = await service.app!.inject({
    method: 'POST',
    url: signedPath(caller.u, fields, caller.secret),
  });

  assert.equal(response.statusCode, 200);
  return response.body;
}

/** The owners of the records holding a speed dial, in ascending order. */
async function ownersOf(speeddial: string): Promise<number[]> {
  const rows = await service
    .db('phonebook_records')
    .select('user_id')
    .where({ speeddial })
    .orderBy('user_id');
  return rows.map((row: { user_id: string }) => Number(row.user_id));
}

/** A record row for a direct insert, bypassing the API. */
function recordRow(userId: number, speeddial: string) {
  return { user_id: userId, number: '5550199', name: 'Direct', speeddial };
}

describe('speed dial uniqueness through the API', () => {
  it('answers Speed dial must be unique when a user repeats its own speed dial', async () => {
    assert.equal(await create(USER_2, '2', '21'), ADDED);
    assert.equal(await create(USER_2, '2', '21'), TAKEN);

    assert.deepEqual(await ownersOf('21'), [2]);
  });

  it('stores a speed dial that another user already holds', async () => {
    assert.equal(await create(USER_2, '2', '22'), ADDED);
    assert.equal(await create(USER_5, '5', '22'), ADDED);

    assert.deepEqual(await ownersOf('22'), [2, 5]);
  });

  it('stores a user record whose speed dial a Global record already holds', async () => {
    assert.equal(await create(ADMIN, GLOBAL, '23'), ADDED);
    assert.equal(await create(USER_2, '2', '23'), ADDED);

    assert.deepEqual(await ownersOf('23'), [0, 2]);
  });

  it("refuses a Global record whose speed dial a user's record holds", async () => {
    assert.equal(await create(USER_5, '5', '24'), ADDED);
    assert.equal(await create(ADMIN, GLOBAL, '24'), TAKEN);

    assert.deepEqual(await ownersOf('24'), [5]);
  });

  it('refuses a Global record whose speed dial another Global record holds', async () => {
    assert.equal(await create(ADMIN, GLOBAL, '25'), ADDED);
    assert.equal(await create(ADMIN, GLOBAL, '25'), TAKEN);

    assert.deepEqual(await ownersOf('25'), [0]);
  });

  it('lets every user repeat a Global speed dial once the Global record exists', async () => {
    assert.equal(await create(ADMIN, GLOBAL, '26'), ADDED);
    assert.equal(await create(USER_2, '2', '26'), ADDED);
    assert.equal(await create(USER_5, '5', '26'), ADDED);
    assert.equal(await create(ADMIN, '3', '26'), ADDED);

    assert.deepEqual(await ownersOf('26'), [0, 2, 3, 5]);
  });

  it('stores one record and answers the 49 others Speed dial must be unique when 50 creates of one speed dial race', async () => {
    const calls = Array.from({ length: 50 }, () => create(USER_2, '2', '27'));
    const answers = await Promise.all(calls);

    assert.equal(answers.filter((answer) => answer === ADDED).length, 1);
    assert.equal(answers.filter((answer) => answer === TAKEN).length, 49);
    assert.deepEqual(await ownersOf('27'), [2]);
  });

  it('never keeps a Global record beside a user record committed before it when Global and user creates race', async () => {
    const speeddials = Array.from({ length: 12 }, (_, index) => String(3000 + index));
    const races = speeddials.map(async (speeddial) => {
      const [, , , global] = await Promise.all([
        create(USER_2, '2', speeddial),
        create(USER_5, '5', speeddial),
        create(ADMIN, '3', speeddial),
        create(ADMIN, GLOBAL, speeddial),
      ]);
      return { speeddial, global };
    });

    for (const { speeddial, global } of await Promise.all(races)) {
      // A row's xmin is the id of the transaction that inserted it. The trigger's lock
      // is taken before the insert is given an id, so ids follow the lock order: a user
      // row with a smaller id than the Global row was locked, and committed, first.
      const rows = await service
        .db('phonebook_records')
        .select('user_id', service.db.raw('xmin::text::bigint as xid'))
        .where({ speeddial });
      const globalRow = rows.find((row) => Number(row.user_id) === 0);

      assert.equal(global, globalRow === undefined ? TAKEN : ADDED);
      if (globalRow === undefined) continue;
      for (const row of rows.filter((row) => row !== globalRow)) {
        assert.ok(
          BigInt(row.xid) > BigInt(globalRow.xid),
          `speed dial ${speeddial}: user ${row.user_id} committed before the Global record`,
        );
      }
    }
  });
});

interface PgError {
  code?: string;
  constraint?: string;
}

/** Resolves once the backend `pid` waits for a lock it has not been granted. */
async function lockWaitOf(pid: number): Promise<void> {
  await waitFor(`backend ${pid} to wait for a lock`, async () => {
    const waiting = await service.db('pg_locks').where({ pid, granted: false }).first();
    return waiting === undefined ? undefined : true;
  });
}

async function backendPid(trx: Knex.Transaction): Promise<number> {
  const result = await trx.raw('select pg_backend_pid() as pid');
  return result.rows[0].pid;
}

/** Starts an insert without awaiting it; settles with 'stored' or the error thrown. */
function startInsert(trx: Knex.Transaction, row: ReturnType<typeof recordRow>) {
  return trx('phonebook_records')
    .insert(row)
    .then(
      () => 'stored' as const,
      (error: unknown) => error as PgError,
    );
}

/**
 * Runs `steps` with two open transactions, each on its own connection, so a test can
 * interleave them statement by statement; rolls back whichever is still open after.
 */
async function withTwoTransactions(
  steps: (first: Knex.Transaction, second: Knex.Transaction) => Promise<void>,
): Promise<void> {
  const first = await service.db.transaction();
  const second = await service.db.transaction();
  try {
    await steps(first, second);
  } finally {
    for (const trx of [first, second]) {
      if (!trx.isCompleted()) await trx.rollback().catch(() => undefined);
    }
  }
}

describe('speed dial uniqueness in the database', () => {
  it("rejects a direct insert that repeats a user's own speed dial", async () => {
    await service.db('phonebook_records').insert(recordRow(2, '40'));

    await assert.rejects(service.db('phonebook_records').insert(recordRow(2, '40')), {
      code: '23505',
      constraint: 'phonebook_records_user_speeddial_unique',
    });
    assert.deepEqual(await ownersOf('40'), [2]);
  });

  it("rejects a direct Global insert whose speed dial a user's record holds", async () => {
    await service.db('phonebook_records').insert(recordRow(5, '41'));

    await assert.rejects(service.db('phonebook_records').insert(recordRow(0, '41')), {
      code: '23505',
      constraint: 'phonebook_records_global_speeddial_unique',
    });
    assert.deepEqual(await ownersOf('41'), [5]);
  });

  it('makes a Global insert wait for an open user insert of its speed dial, then refuses it', async () => {
    await withTwoTransactions(async (userTrx, globalTrx) => {
      const globalPid = await backendPid(globalTrx);

      await userTrx('phonebook_records').insert(recordRow(2, '42'));
      const globalInsert = startInsert(globalTrx, recordRow(0, '42'));
      await lockWaitOf(globalPid);
      await userTrx.commit();

      const refusal = await globalInsert;
      assert.notEqual(refusal, 'stored');
      const { code, constraint } = refusal as PgError;
      assert.deepEqual(
        { code, constraint },
        { code: '23505', constraint: 'phonebook_records_global_speeddial_unique' },
      );
    });

    assert.deepEqual(await ownersOf('42'), [2]);
  });

  it('makes a user insert wait for an open Global insert of its speed dial, then stores it', async () => {
    await withTwoTransactions(async (globalTrx, userTrx) => {
      const userPid = await backendPid(userTrx);

      await globalTrx('phonebook_records').insert(recordRow(0, '43'));
      const userInsert = startInsert(userTrx, recordRow(2, '43'));
      await lockWaitOf(userPid);
      await globalTrx.commit();

      assert.equal(await userInsert, 'stored');
      await userTrx.commit();
    });

    assert.deepEqual(await ownersOf('43'), [0, 2]);
  });
});
