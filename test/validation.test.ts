import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  callApi,
  countRecords,
  pageXml,
  sign,
  startTestService,
  type TestService,
} from './harness.ts';

/** Field validation order and texts, then the bounds beyond MOR (../shared/DESIGN.md section 2). */

let service: TestService;

before(async () => {
  service = await startTestService();
});

after(async () => {
  await service.dispose();
});

async function create(fields: Record<string, string>): Promise<string> {
  const response = await callApi(service, {
    query: { u: 'username', ...sign({ user_id: '2', ...fields }, 'secret') },
  });
  assert.equal(response.statusCode, 200);
  return response.body;
}

const error = (text: string) => pageXml('error', text);
const ADDED = pageXml('success', 'Record successfully added');
const NAME_MISSING = error('Speed Dial name must be provided');
const NUMBER_EMPTY = error('Record number should have at least one digit');
const SPEEDDIAL_SHORT = error('Speed Dial should have at least two digits');
const NUMBER_NOT_NUMERIC = error('Record number must be numeric');
const SPEEDDIAL_NOT_NUMERIC = error('Speed Dial must be numeric');
const NAME_INVALID = error(
  'Speed Dial name must be valid UTF-8 text without NUL characters',
);
const NAME_LONG = error('Speed Dial name is too long (maximum is 255 characters)');
const NUMBER_LONG = error('Record number is too long (maximum is 255 characters)');
const SPEEDDIAL_LONG = error('Speed Dial is too long (maximum is 50 characters)');

describe('MOR field validation, in MOR order', () => {
  const cases: Array<[string, Record<string, string>, string]> = [
    [
      'answers Speed Dial name must be provided for an empty name',
      { name: '', number: '1', speeddial: '11' },
      NAME_MISSING,
    ],
    [
      'answers Speed Dial name must be provided for a missing name',
      { number: '1', speeddial: '12' },
      NAME_MISSING,
    ],
    [
      'counts a name of Unicode whitespace only as blank',
      { name: ' \t\u00a0\u2003\u3000\u0085', number: '1', speeddial: '13' },
      NAME_MISSING,
    ],
    [
      'checks the name before every other field',
      { name: '', number: '', speeddial: '' },
      NAME_MISSING,
    ],
    [
      'answers Record number should have at least one digit for an empty number',
      { name: 'a', number: '', speeddial: '14' },
      NUMBER_EMPTY,
    ],
    ['counts a missing number as empty', { name: 'a', speeddial: '15' }, NUMBER_EMPTY],
    [
      'checks an empty number before a short speed dial',
      { name: 'a', number: '', speeddial: '1' },
      NUMBER_EMPTY,
    ],
    [
      'answers Speed Dial should have at least two digits for one character',
      { name: 'a', number: '1', speeddial: '1' },
      SPEEDDIAL_SHORT,
    ],
    [
      'counts a missing speed dial as too short',
      { name: 'a', number: '1' },
      SPEEDDIAL_SHORT,
    ],
    [
      'checks speed dial length before the number is numeric',
      { name: 'a', number: 'x', speeddial: '1' },
      SPEEDDIAL_SHORT,
    ],
    [
      'counts speed dial length in characters, not bytes',
      { name: 'a', number: '1', speeddial: 'é' },
      SPEEDDIAL_SHORT,
    ],
    [
      'answers Record number must be numeric for letters',
      { name: 'a', number: '12a', speeddial: '16' },
      NUMBER_NOT_NUMERIC,
    ],
    [
      'refuses a number with a plus sign',
      { name: 'a', number: '+3706', speeddial: '17' },
      NUMBER_NOT_NUMERIC,
    ],
    [
      'refuses non-ASCII digits in the number',
      { name: 'a', number: '١٢٣', speeddial: '18' },
      NUMBER_NOT_NUMERIC,
    ],
    [
      'refuses a number with spaces around it',
      { name: 'a', number: ' 12', speeddial: '19' },
      NUMBER_NOT_NUMERIC,
    ],
    [
      'checks the number is numeric before the speed dial is',
      { name: 'a', number: 'x', speeddial: 'yy' },
      NUMBER_NOT_NUMERIC,
    ],
    [
      'answers Speed Dial must be numeric for letters',
      { name: 'a', number: '1', speeddial: '1a' },
      SPEEDDIAL_NOT_NUMERIC,
    ],
    [
      'refuses a speed dial with a hash sign',
      { name: 'a', number: '1', speeddial: '#12' },
      SPEEDDIAL_NOT_NUMERIC,
    ],
  ];

  for (const [title, fields, expected] of cases) {
    it(title, async () => {
      assert.equal(await create(fields), expected);
    });
  }
});

describe('bounds beyond MOR', () => {
  it('answers the invalid name text for a name holding a NUL', async () => {
    assert.equal(
      await create({ name: 'a\u0000b', number: '1', speeddial: '20' }),
      NAME_INVALID,
    );
  });

  it('accepts a name of exactly 255 characters, counted as code points', async () => {
    assert.equal(
      await create({ name: '😀'.repeat(255), number: '1', speeddial: '21' }),
      ADDED,
    );
  });

  it('answers the long name text for a name of 256 characters', async () => {
    assert.equal(
      await create({ name: 'n'.repeat(256), number: '1', speeddial: '22' }),
      NAME_LONG,
    );
  });

  it('answers the long number text for a number of 256 digits', async () => {
    assert.equal(
      await create({ name: 'a', number: '1'.repeat(256), speeddial: '23' }),
      NUMBER_LONG,
    );
  });

  it('accepts a number of 255 digits', async () => {
    assert.equal(
      await create({ name: 'a', number: '9'.repeat(255), speeddial: '24' }),
      ADDED,
    );
  });

  it('answers the long speed dial text for 51 digits', async () => {
    assert.equal(
      await create({ name: 'a', number: '1', speeddial: '2'.repeat(51) }),
      SPEEDDIAL_LONG,
    );
  });

  it('accepts a speed dial of 50 digits', async () => {
    assert.equal(
      await create({ name: 'a', number: '1', speeddial: '3'.repeat(50) }),
      ADDED,
    );
  });

  it('checks MOR texts before the bounds', async () => {
    assert.equal(
      await create({ name: 'n'.repeat(300), number: 'x', speeddial: '25' }),
      NUMBER_NOT_NUMERIC,
    );
  });
});

describe('values are kept exactly as received', () => {
  it('keeps leading zeros in number and speed dial', async () => {
    assert.equal(
      await create({ name: 'Zeros', number: '00370', speeddial: '007' }),
      ADDED,
    );
    const row = await service.db('phonebook_records').where({ name: 'Zeros' }).first();
    assert.equal(row.number, '00370');
    assert.equal(row.speeddial, '007');
  });

  it('treats 07 and 7 as different speed dials', async () => {
    assert.equal(await create({ name: 'a', number: '1', speeddial: '0077' }), ADDED);
    assert.equal(await create({ name: 'a', number: '1', speeddial: '077' }), ADDED);
  });

  it('stores the name untrimmed and in its own case and form', async () => {
    const name = '  Ca\u0301fe\u0301 DESK  ';
    assert.equal(await create({ name, number: '1', speeddial: '26' }), ADDED);
    const row = await service.db('phonebook_records').where({ speeddial: '26' }).first();
    assert.equal(row.name, name);
  });

  it('stores nothing for a refused field', async () => {
    const before = await countRecords(service);
    await create({ name: '', number: '1', speeddial: '27' });
    await create({ name: 'a', number: '1', speeddial: '2'.repeat(51) });
    assert.equal(await countRecords(service), before);
  });
});
