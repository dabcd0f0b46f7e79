import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, loadConfig } from '../src/config.ts';
import { decodeForm, percentDecode } from '../src/ingress/formDecode.ts';
import { wantsJson } from '../src/ingress/server.ts';
import {
  decodeJsonMembers,
  JsonSyntaxError,
  NOT_TEXT,
} from '../src/ingress/jsonDecode.ts';
import { decodeMultipart, MultipartError } from '../src/ingress/multipartDecode.ts';

const text = (value: Buffer | typeof NOT_TEXT) =>
  value === NOT_TEXT ? NOT_TEXT : value.toString('latin1');

describe('form decoding', () => {
  it('decodes + as a space and %2B as a plus', () => {
    assert.equal(percentDecode(Buffer.from('a+b%2Bc')).toString(), 'a b+c');
  });

  it('decodes a percent escape to one raw byte, even when it is not UTF-8', () => {
    assert.deepEqual(
      percentDecode(Buffer.from('%FF%fe%00')),
      Buffer.from([0xff, 0xfe, 0x00]),
    );
  });

  it('keeps a percent sign that starts no escape', () => {
    assert.equal(percentDecode(Buffer.from('%zz%4%')).toString(), '%zz%4%');
  });

  it('splits pairs in order, skipping empty pieces and keeping keys without a value', () => {
    const { pairs } = decodeForm(Buffer.from('a=1&&b&c=x=y&a=2'), 100);
    assert.deepEqual(
      pairs.map((pair) => [pair.key, pair.value.toString()]),
      [
        ['a', '1'],
        ['b', ''],
        ['c', 'x=y'],
        ['a', '2'],
      ],
    );
  });

  it('stops and says so past the most pairs allowed', () => {
    const { pairs, tooMany } = decodeForm(Buffer.from('a=1&b=2&c=3'), 2);
    assert.equal(tooMany, true);
    assert.equal(pairs.length, 2);
  });
});

describe('JSON decoding', () => {
  it('keeps numbers as written', () => {
    const members = decodeJsonMembers(
      Buffer.from('{"a": 2, "b": -0.50, "c": 1E+2, "d": 123456789012345678901}'),
    );
    assert.deepEqual(
      members.map((m) => text(m.value)),
      ['2', '-0.50', '1E+2', '123456789012345678901'],
    );
  });

  it('marks arrays, objects, booleans and null as not text', () => {
    const members = decodeJsonMembers(
      Buffer.from('{"a":[1,{"x":[]}],"b":{"c":"d"},"e":true,"f":false,"g":null}'),
    );
    assert.deepEqual(
      members.map((m) => m.value),
      [NOT_TEXT, NOT_TEXT, NOT_TEXT, NOT_TEXT, NOT_TEXT],
    );
  });

  it('keeps raw bytes of a string that are not valid UTF-8', () => {
    const [member] = decodeJsonMembers(
      Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xff, 0x22, 0x7d]),
    );
    assert.deepEqual(member?.value, Buffer.from([0xff]));
  });

  it('encodes a lone surrogate escape as bytes that are not valid UTF-8', () => {
    const [member] = decodeJsonMembers(Buffer.from('{"a":"\\udc00x"}'));
    assert.deepEqual(member?.value, Buffer.from([0xed, 0xb0, 0x80, 0x78]));
  });

  for (const [title, body] of [
    ['a trailing comma', '{"a":"1",}'],
    ['a top-level array', '["a"]'],
    ['trailing data', '{"a":"1"} x'],
    ['a raw control character in a string', '{"a":"\u0001"}'],
    ['a leading zero', '{"a":01}'],
    ['a bad escape', '{"a":"\\x"}'],
    ['nesting past 64 levels', `{"a":${'['.repeat(100)}${']'.repeat(100)}}`],
    ['an empty body', ''],
  ]) {
    it(`refuses ${title}`, () => {
      assert.throws(
        () => decodeJsonMembers(Buffer.from(body as string)),
        JsonSyntaxError,
      );
    });
  }
});

describe('multipart decoding', () => {
  const type = 'multipart/form-data; boundary="b0"';
  const body = (parts: string) => Buffer.from(`preamble\r\n${parts}--b0--\r\nepilogue`);

  it('reads fields with their exact bytes, CRLF inside values included', () => {
    const { pairs } = decodeMultipart(
      body(
        '--b0\r\nContent-Disposition: form-data; name="a"\r\n\r\nx\r\ny\r\n--b0\r\ncontent-disposition: form-data; name=b\r\n\r\n\r\n',
      ),
      type,
      10,
    );
    assert.deepEqual(
      pairs.map((p) => [p.key, text(p.value)]),
      [
        ['a', 'x\r\ny'],
        ['b', ''],
      ],
    );
  });

  it('marks a part with a filename as not text', () => {
    const { pairs } = decodeMultipart(
      body(
        '--b0\r\nContent-Disposition: form-data; name="a"; filename="f.txt"\r\nContent-Type: text/plain\r\n\r\nx\r\n',
      ),
      type,
      10,
    );
    assert.equal(pairs[0]?.value, NOT_TEXT);
  });

  it('refuses a body without a closing delimiter', () => {
    assert.throws(
      () =>
        decodeMultipart(
          Buffer.from('--b0\r\nContent-Disposition: form-data; name="a"\r\n\r\nx'),
          type,
          10,
        ),
      MultipartError,
    );
  });

  it('refuses a content type without a boundary', () => {
    assert.throws(
      () => decodeMultipart(body(''), 'multipart/form-data', 10),
      MultipartError,
    );
  });

  it('stops and says so past the most parts allowed', () => {
    const part = '--b0\r\nContent-Disposition: form-data; name="a"\r\n\r\nx\r\n';
    const { tooMany } = decodeMultipart(body(part.repeat(3)), type, 2);
    assert.equal(tooMany, true);
  });
});

describe('configuration', () => {
  it('runs on defaults that reach Redis and Postgres on this machine', () => {
    const config = loadConfig({});
    assert.equal(config.DATABASE_URL, 'postgres://postgres@127.0.0.1:5432/phonebook');
    assert.equal(config.REDIS_URL, 'redis://127.0.0.1:6379');
    assert.equal(config.PORT, 3000);
    assert.equal(config.SYNC_WAIT_MS, 10_000);
  });

  it('names every bad value on its own line', () => {
    try {
      loadConfig({ PORT: 'eighty', REDIS_URL: 'http://x', WORKER_CONCURRENCY: '0' });
      assert.fail('expected a ConfigError');
    } catch (error) {
      assert.ok(error instanceof ConfigError);
      assert.deepEqual(
        error.problems.map((line) => line.split(':')[0]),
        ['REDIS_URL', 'PORT', 'WORKER_CONCURRENCY'],
      );
    }
  });
});

describe('Accept negotiation of the job status', () => {
  const cases: Array<[string | undefined, boolean]> = [
    [undefined, false],
    ['*/*', false],
    ['application/json', true],
    ['application/json, text/plain, */*', true],
    ['application/xml, application/json;q=0.1', false],
    ['text/xml;q=0.5, application/json', true],
    ['application/json, text/xml', true],
    ['text/xml, application/json', false],
    ['application/json;q=0', false],
    ['APPLICATION/JSON', true],
  ];
  for (const [accept, json] of cases) {
    it(`answers ${json ? 'JSON' : 'XML'} for Accept: ${accept ?? '(none)'}`, () => {
      assert.equal(wantsJson(accept), json);
    });
  }
});
