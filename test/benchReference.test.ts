import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import type { Knex } from 'knex';
import pg from 'pg';
import { buildReference } from '../bench/reference/app.ts';
import { connectDatabase, ensureDatabase, migrateLatest } from '../src/db/connect.ts';
import { seedDemo } from '../src/db/seedDemo.ts';
import {
  callApi,
  databaseUrl,
  dropDatabase,
  query,
  sign,
  startTestService,
  uniqueName,
  type ApiCall,
  type TestService,
} from './harness.ts';

/**
 * The bench's reference (bench/reference, issue 7) must answer exactly as the service
 * does, so the bench compares architectures and not behaviours: every row of the
 * check order, the refusals before queueing, and the first and a repeated success,
 * sent to both (the service in sync mode), compared status, type and body.
 */

const USERS = [
  { id: 6, username: 'lonely_reseller', usertype: 'reseller', owner_id: 0 },
  { id: 8, username: 'second_user', usertype: 'user', owner_id: 0 },
  { id: 9, username: 'blank_reseller', usertype: 'reseller', owner_id: 0 },
  { id: 10, username: 'nohash_reseller', usertype: 'reseller', owner_id: 0 },
  { id: 11, username: 'nohash_user', usertype: 'user', owner_id: 10 },
  { id: 12, username: 'odd_type', usertype: 'partner', owner_id: 0 },
];
const SETTINGS = [
  { scope_owner_id: 9, name: 'Allow_API', value: '1' },
  { scope_owner_id: 9, name: 'API_Secret_Key', value: '  ' },
  { scope_owner_id: 10, name: 'Allow_API', value: '1' },
  { scope_owner_id: 10, name: 'API_Disable_hash_checking', value: '1' },
];

const record = (userId: string, speeddial: string) => ({
  user_id: userId,
  number: '37060000000',
  name: 'Front desk',
  speeddial,
});

/** Calls in the order sent; later ones meet the records earlier ones stored. */
const CALLS: Array<[string, ApiCall]> = [
  ['a success', { query: { u: 'username', ...sign(record('2', '10'), 'secret') } }],
  ['its repeat', { query: { u: 'username', ...sign(record('2', '10'), 'secret') } }],
  [
    'a GET',
    { method: 'GET', query: { u: 'username', ...sign(record('2', '11'), 'secret') } },
  ],
  ['no such user', { query: { u: 'nobody', ...sign(record('2', '12'), 'secret') } }],
  [
    'no API rights',
    { query: { u: 'lonely_reseller', ...sign(record('6', '12'), 'secret') } },
  ],
  [
    'a blank secret',
    { query: { u: 'blank_reseller', ...sign(record('9', '12'), '  ') } },
  ],
  [
    'a wrong hash',
    { query: { u: 'username', ...record('2', '12'), hash: 'f'.repeat(40) } },
  ],
  ['no hash checking', { query: { u: 'nohash_user', ...record('11', '12') } }],
  [
    'an odd user type',
    { query: { u: 'odd_type', ...sign(record('12', '12'), 'secret') } },
  ],
  ['another user', { query: { u: 'username', ...sign(record('8', '12'), 'secret') } }],
  [
    'a blank name',
    { query: { u: 'username', ...sign({ ...record('2', '13'), name: ' ' }, 'secret') } },
  ],
  [
    'a short speed dial',
    { query: { u: 'username', ...sign(record('2', '1'), 'secret') } },
  ],
  ['a Global record', { query: { u: 'admin', ...sign(record('0', '10'), 'secret') } }],
  [
    'a JSON body',
    {
      contentType: 'application/json',
      body: JSON.stringify({ u: 'username', ...sign(record('2', '14'), 'secret') }),
    },
  ],
  [
    'a form body',
    {
      contentType: 'application/x-www-form-urlencoded',
      body: query({ u: 'username', ...sign(record('2', '15'), 'secret') }),
    },
  ],
  ['an array param', { query: { u: 'username', 'name[]': 'x' } }],
];

let service: TestService;
let referenceName: string;
let referenceDb: Knex;
let pool: pg.Pool;
let reference: FastifyInstance;

before(async () => {
  service = await startTestService();
  await service.db('users').insert(USERS);
  await service.db('settings').insert(SETTINGS);

  referenceName = uniqueName('phonebook_reference');
  const url = databaseUrl(referenceName);
  await ensureDatabase(url);
  referenceDb = connectDatabase(url, 2);
  await migrateLatest(referenceDb);
  await seedDemo(referenceDb);
  await referenceDb('users').insert(USERS);
  await referenceDb('settings').insert(SETTINGS);
  pool = new pg.Pool({ connectionString: url, max: 2 });
  reference = await buildReference(pool, { maxParams: 1_000, bodyLimitBytes: 65_536 });
});

after(async () => {
  await reference.close();
  await pool.end();
  await referenceDb.destroy();
  await dropDatabase(referenceName);
  await service.dispose();
});

describe('the bench reference answers as the service does', () => {
  it('gives every call the same status, content type and body, byte for byte', async () => {
    for (const [what, call] of CALLS) {
      const fromService = await callApi(service, call);
      const fromReference = await reference.inject({
        method: call.method ?? 'POST',
        url: `/billing/api/phonebook_record_create${call.query ? `?${query(call.query)}` : ''}`,
        headers: call.contentType ? { 'content-type': call.contentType } : {},
        ...(call.body !== undefined ? { payload: call.body } : {}),
      });
      const answer = (response: typeof fromService) => ({
        status: response.statusCode,
        type: response.headers['content-type'],
        body: response.body,
      });
      assert.deepEqual(answer(fromReference), answer(fromService), what);
    }
  });
});
