import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  computeHash,
  hashMatches,
  signedString,
  signedUserId,
  type CallBytes,
} from '../src/hash.ts';

function bytes(params: Record<string, string>): CallBytes {
  return Object.fromEntries(
    Object.entries(params).map(([k, v]) => [k, Buffer.from(v, 'utf8')]),
  );
}

const EXAMPLE = {
  user_id: '2',
  number: '920355666',
  name: 'phonebook',
  speeddial: '666',
};

describe('hash vectors of the design', () => {
  it('signs the API page example with the key secret as the page printed it', () => {
    assert.equal(
      computeHash(bytes(EXAMPLE), 'secret'),
      '1272cf77ba94153d59c87f699906e726277ff240',
    );
  });

  it('signs the API page example with the key 456789 its text names', () => {
    assert.equal(
      computeHash(bytes(EXAMPLE), '456789'),
      '85c9f6ed0056a425bfc630f074f4c1d60c5e1a22',
    );
  });

  it('signs user 25 with a spaced name and speed dial 327', () => {
    const params = { user_id: '25', name: 'test speed dial', speeddial: '327' };
    assert.equal(
      computeHash(bytes(params), 'secret'),
      '6a36c7394ae984a5be4152e05b6e3046e9f4644b',
    );
  });

  it('signs the secret alone when no signed param is present', () => {
    assert.equal(
      computeHash(bytes({ u: 'admin', p: 'pw' }), 'secret'),
      'e5e9fa1ba31ecd1ae84f75caaa474f3a663f05f4',
    );
  });

  it('signs an empty user_id as 0', () => {
    assert.equal(
      computeHash(bytes({ user_id: '' }), 'secret'),
      '60fc593f766e7412c1059da8847ef755cef541a3',
    );
  });
});

describe('hash rules', () => {
  it('signs params in the fixed order whatever order they came in', () => {
    const reordered = {
      speeddial: '666',
      name: 'phonebook',
      number: '920355666',
      user_id: '2',
    };
    assert.equal(
      signedString(bytes(reordered), 'k').toString(),
      '2920355666phonebook666k',
    );
  });

  it('signs an all-digit user_id in integer form, so 02 signs as 2', () => {
    assert.equal(signedUserId(Buffer.from('02')), '2');
    assert.equal(signedUserId(Buffer.from('0000')), '0');
  });

  it('keeps every digit of a user_id larger than any integer type', () => {
    assert.equal(
      signedUserId(Buffer.from('0123456789012345678901234567890')),
      '123456789012345678901234567890',
    );
  });

  it('leaves a user_id that is not all ASCII digits out of the signed string', () => {
    assert.equal(
      signedString(bytes({ user_id: '2a', number: '5' }), 'k').toString(),
      '5k',
    );
    assert.equal(
      signedString(bytes({ user_id: '-2', number: '5' }), 'k').toString(),
      '5k',
    );
    assert.equal(
      signedString(bytes({ user_id: '٢', number: '5' }), 'k').toString(),
      '5k',
    );
  });

  it('adds nothing for present but empty number, name and speeddial', () => {
    assert.equal(
      signedString(bytes({ number: '', name: '', speeddial: '' }), 'k').toString(),
      'k',
    );
  });

  it('signs callback_url last, after speeddial', () => {
    const params = {
      callback_url: 'https://example.test/cb',
      speeddial: '12',
      user_id: '3',
    };
    assert.equal(
      signedString(bytes(params), 'k').toString(),
      '312https://example.test/cbk',
    );
  });

  it('never signs u, p or hash', () => {
    const params = { u: 'username', p: 'password', hash: 'x'.repeat(40), number: '1' };
    assert.equal(signedString(bytes(params), 'k').toString(), '1k');
  });

  it('signs the exact bytes of a value that is not valid UTF-8', () => {
    const call: CallBytes = { name: Buffer.from([0x61, 0xff, 0x62]) };
    assert.deepEqual(signedString(call, 'k'), Buffer.from([0x61, 0xff, 0x62, 0x6b]));
  });

  it('accepts a hash in upper-case hex', () => {
    const expected = '1272cf77ba94153d59c87f699906e726277ff240';
    assert.equal(hashMatches(Buffer.from(expected.toUpperCase()), expected), true);
  });

  it('refuses a hash that is not 40 characters long', () => {
    const expected = '1272cf77ba94153d59c87f699906e726277ff240';
    assert.equal(hashMatches(Buffer.from(expected.slice(0, 39)), expected), false);
    assert.equal(hashMatches(Buffer.from(`${expected}0`), expected), false);
    assert.equal(hashMatches(undefined, expected), false);
  });

  it('refuses a hash that differs in one digit', () => {
    const expected = '1272cf77ba94153d59c87f699906e726277ff240';
    assert.equal(hashMatches(Buffer.from(`${expected.slice(0, 39)}1`), expected), false);
  });
});
