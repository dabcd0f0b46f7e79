import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  bareXml,
  callApi,
  countRecords,
  pageXml,
  sign,
  startTestService,
  userCall,
  type TestService,
} from './harness.ts';

/** Every row of the check-order table (../shared/DESIGN.md section 2), whole bodies. */

const ACCESS_DENIED = pageXml('error', 'Access Denied');
const API_DISABLED = bareXml('API Requests are disabled');
const GET_DISABLED = bareXml('GET Requests are disabled');
const SECRET_MISSING = bareXml('API must have Secret Key');
const INCORRECT_HASH = bareXml('Incorrect hash');
const USER_NOT_FOUND = pageXml('error', 'User was not found');
const ADDED = pageXml('success', 'Record successfully added');

let service: TestService;
let speeddial = 500;

function fields(userId: string): Record<string, string> {
  return { user_id: userId, number: '123', name: 'Desk', speeddial: String(speeddial++) };
}

async function post(params: Record<string, string>, method: 'GET' | 'POST' = 'POST') {
  const response = await callApi(service, { method, query: params });
  assert.equal(response.statusCode, 200);
  assert.equal(response.headers['content-type'], 'text/xml; charset=utf-8');
  return response.body;
}

async function setSetting(scope: number, name: string, value: string) {
  await service
    .db('settings')
    .insert({ scope_owner_id: scope, name, value })
    .onConflict(['scope_owner_id', 'name'])
    .merge();
}

before(async () => {
  service = await startTestService();
  await service.db('users').insert([
    { id: 6, username: 'lonely_reseller', usertype: 'reseller', owner_id: 0 },
    { id: 7, username: 'lonely_user', usertype: 'user', owner_id: 6 },
    { id: 8, username: 'second_user', usertype: 'user', owner_id: 0 },
    { id: 9, username: 'blank_reseller', usertype: 'reseller', owner_id: 0 },
    { id: 10, username: 'nohash_reseller', usertype: 'reseller', owner_id: 0 },
    { id: 11, username: 'nohash_user', usertype: 'user', owner_id: 10 },
    { id: 12, username: 'odd_type', usertype: 'partner', owner_id: 0 },
    { id: 13, username: 'reseller_accountant', usertype: 'accountant', owner_id: 3 },
  ]);
  await setSetting(9, 'Allow_API', '1');
  await setSetting(9, 'API_Secret_Key', '  ');
  await setSetting(10, 'Allow_API', '1');
  await setSetting(10, 'API_Disable_hash_checking', '1');
});

after(async () => {
  await service.dispose();
});

describe('row 1: the caller must exist', () => {
  it('answers Access Denied when no user has the username', async () => {
    assert.equal(await post({ ...userCall(), u: 'nobody' }), ACCESS_DENIED);
  });

  it('answers Access Denied when u is missing', async () => {
    const { u: _u, ...params } = userCall();
    assert.equal(await post(params), ACCESS_DENIED);
  });

  it('answers Access Denied when u is blank', async () => {
    assert.equal(await post({ ...userCall(), u: '' }), ACCESS_DENIED);
  });

  it('matches the username case-insensitively', async () => {
    assert.equal(await post({ ...userCall(), u: 'UserName' }), ADDED);
  });

  it('does not trim the username', async () => {
    assert.equal(await post({ ...userCall(), u: ' username' }), ACCESS_DENIED);
  });

  it('answers Access Denied before anything else, even for a GET with a bad hash', async () => {
    assert.equal(await post({ u: 'nobody', hash: 'x' }, 'GET'), ACCESS_DENIED);
  });
});

describe('row 2: the API must be allowed in the caller scope', () => {
  it('answers API Requests are disabled for a reseller without settings', async () => {
    assert.equal(
      await post({ u: 'lonely_reseller', ...sign(fields('6'), 'secret') }),
      API_DISABLED,
    );
  });

  it('answers API Requests are disabled for a user of a reseller without settings', async () => {
    assert.equal(
      await post({ u: 'lonely_user', ...sign(fields('7'), 'secret') }),
      API_DISABLED,
    );
  });

  it('answers API Requests are disabled when the global Allow_API is off', async () => {
    await setSetting(0, 'Allow_API', '0');
    try {
      assert.equal(await post(userCall()), API_DISABLED);
    } finally {
      await setSetting(0, 'Allow_API', '1');
    }
  });

  it('checks Allow_API before the GET switch', async () => {
    assert.equal(await post({ u: 'lonely_reseller', user_id: '6' }, 'GET'), API_DISABLED);
  });
});

describe('row 3: GET must be allowed globally', () => {
  it('answers GET Requests are disabled for a GET while Allow_GET_API is off', async () => {
    assert.equal(await post(userCall(), 'GET'), GET_DISABLED);
  });

  it('answers GET Requests are disabled before checking the hash', async () => {
    assert.equal(await post({ ...userCall(), hash: 'wrong' }, 'GET'), GET_DISABLED);
  });

  it('accepts a GET once the global Allow_GET_API is on', async () => {
    await setSetting(0, 'Allow_GET_API', '1');
    try {
      assert.equal(await post(userCall(), 'GET'), ADDED);
    } finally {
      await setSetting(0, 'Allow_GET_API', '0');
    }
  });

  it('reads Allow_GET_API from the global scope only, never a reseller scope', async () => {
    await setSetting(3, 'Allow_GET_API', '1');
    const params = { u: 'reseller', ...sign(fields('3'), 'rsecret') };
    assert.equal(await post(params, 'GET'), GET_DISABLED);
  });

  it('counts a POST whose params are all in the query string as a POST', async () => {
    assert.equal(await post(userCall(), 'POST'), ADDED);
  });
});

describe('row 4: hash checking needs a secret', () => {
  it('answers API must have Secret Key when the scope secret is blank', async () => {
    assert.equal(
      await post({ u: 'blank_reseller', ...sign(fields('9'), '  ') }),
      SECRET_MISSING,
    );
  });

  it('skips the secret and the hash when hash checking is disabled', async () => {
    const params = { u: 'nohash_user', ...fields('11'), hash: 'not a hash' };
    assert.equal(await post(params), ADDED);
  });
});

describe('row 5: the hash must match', () => {
  it('answers Incorrect hash when the hash is missing', async () => {
    const { hash: _hash, ...params } = userCall();
    assert.equal(await post(params), INCORRECT_HASH);
  });

  it('answers Incorrect hash when the call was signed with another secret', async () => {
    assert.equal(
      await post({ u: 'username', ...sign(fields('2'), '456789') }),
      INCORRECT_HASH,
    );
  });

  it('answers Incorrect hash when a signed param was changed after signing', async () => {
    assert.equal(await post({ ...userCall(), name: 'Changed' }), INCORRECT_HASH);
  });

  it('accepts a hash in upper-case hex', async () => {
    const params = userCall();
    assert.equal(
      await post({ ...params, hash: (params.hash as string).toUpperCase() }),
      ADDED,
    );
  });

  it('signs with the reseller secret for a user of that reseller', async () => {
    const params = { u: 'user_reseller', ...sign(fields('5'), 'rsecret') };
    assert.equal(await post(params), ADDED);
  });

  it('refuses a user of a reseller who signs with the global secret', async () => {
    const params = { u: 'user_reseller', ...sign(fields('5'), 'secret') };
    assert.equal(await post(params), INCORRECT_HASH);
  });

  it('answers Incorrect hash for an accountant with a wrong hash, before its type is checked', async () => {
    assert.equal(
      await post({ u: 'accountant', ...fields('2'), hash: '0'.repeat(40) }),
      INCORRECT_HASH,
    );
  });
});

describe('row 6: the caller type', () => {
  it('answers Access Denied to an accountant with a correct hash', async () => {
    assert.equal(
      await post({ u: 'accountant', ...sign(fields('2'), 'secret') }),
      ACCESS_DENIED,
    );
  });

  it('answers Access Denied to a caller of an unknown type', async () => {
    await setSetting(0, 'Allow_API', '1');
    assert.equal(
      await post({ u: 'odd_type', ...sign(fields('12'), 'secret') }),
      ACCESS_DENIED,
    );
  });
});

describe('row 7: who may act for whom', () => {
  const cases: Array<[string, string, string, string, string]> = [
    ['lets the admin act for a user', 'admin', 'secret', '2', ADDED],
    ['lets the admin act for a reseller', 'admin', 'secret', '3', ADDED],
    [
      'lets the admin act for itself, making a Global record',
      'admin',
      'secret',
      '0',
      ADDED,
    ],
    [
      'refuses the admin acting for an accountant',
      'admin',
      'secret',
      '4',
      USER_NOT_FOUND,
    ],
    ['lets a reseller act for itself', 'reseller', 'rsecret', '3', ADDED],
    ['lets a reseller act for a user it owns', 'reseller', 'rsecret', '5', ADDED],
    [
      'refuses a reseller acting for a user it does not own',
      'reseller',
      'rsecret',
      '2',
      USER_NOT_FOUND,
    ],
    [
      'refuses a reseller acting for the admin',
      'reseller',
      'rsecret',
      '0',
      USER_NOT_FOUND,
    ],
    [
      'refuses a reseller acting for an accountant it owns',
      'reseller',
      'rsecret',
      '13',
      USER_NOT_FOUND,
    ],
    ['lets a user act for itself', 'username', 'secret', '2', ADDED],
    ['refuses a user acting for another user', 'username', 'secret', '8', USER_NOT_FOUND],
    [
      'refuses a user acting for its owner',
      'user_reseller',
      'rsecret',
      '3',
      USER_NOT_FOUND,
    ],
    [
      'answers User was not found for an id no user has',
      'admin',
      'secret',
      '999',
      USER_NOT_FOUND,
    ],
  ];

  for (const [title, caller, secret, userId, expected] of cases) {
    it(title, async () => {
      assert.equal(await post({ u: caller, ...sign(fields(userId), secret) }), expected);
    });
  }

  it('reads an all-digit user_id with leading zeros as its integer value', async () => {
    assert.equal(await post({ u: 'username', ...sign(fields('0002'), 'secret') }), ADDED);
  });

  it('names no user with an empty user_id', async () => {
    assert.equal(
      await post({ u: 'admin', ...sign(fields(''), 'secret') }),
      USER_NOT_FOUND,
    );
  });

  it('names no user with a user_id that is not all digits', async () => {
    assert.equal(
      await post({ u: 'admin', ...sign(fields('2 '), 'secret') }),
      USER_NOT_FOUND,
    );
    assert.equal(
      await post({ u: 'admin', ...sign(fields('+2'), 'secret') }),
      USER_NOT_FOUND,
    );
  });

  it('names no user with a user_id past the largest integer', async () => {
    const huge = '99999999999999999999999';
    assert.equal(
      await post({ u: 'admin', ...sign(fields(huge), 'secret') }),
      USER_NOT_FOUND,
    );
  });

  it('answers User was not found before field validation', async () => {
    const params = {
      u: 'username',
      ...sign({ user_id: '8', name: '', number: '', speeddial: '' }, 'secret'),
    };
    assert.equal(await post(params), USER_NOT_FOUND);
  });

  it('stores the record under the target user, not the caller', async () => {
    const params = fields('5');
    assert.equal(await post({ u: 'admin', ...sign(params, 'secret') }), ADDED);
    const row = await service
      .db('phonebook_records')
      .where({ speeddial: params.speeddial })
      .first();
    assert.equal(String(row.user_id), '5');
  });
});

describe('refused calls store nothing', () => {
  it('leaves the record count unchanged after every refusal', async () => {
    const before = await countRecords(service);
    await post({ ...userCall(), u: 'nobody' });
    await post({ ...userCall(), hash: '0'.repeat(40) });
    await post({ u: 'accountant', ...sign(fields('2'), 'secret') });
    await post({ u: 'username', ...sign(fields('8'), 'secret') });
    assert.equal(await countRecords(service), before);
  });
});
