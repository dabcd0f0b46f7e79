import { CALL_PARAM_NAMES } from '../../src/types.ts';

/**
 * Seeded generators of hostile requests for the fuzz suite. Every request they make is
 * invalid (no valid hash can come out of them), so none may ever store a record.
 */

export interface FuzzRequest {
  method: 'GET' | 'POST' | 'PUT' | 'HEAD' | 'DELETE';
  url: string;
  headers: Record<string, string>;
  payload?: Buffer;
}

/** mulberry32: a small, fast, repeatable PRNG. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Random = () => number;

const pick = <T>(random: Random, items: readonly T[]): T =>
  items[Math.floor(random() * items.length)] as T;

const KEYS = [...CALL_PARAM_NAMES, 'p', 'async'];

const NASTY_TEXT = [
  '',
  ' ',
  'username',
  'ADMIN',
  'reseller',
  '0',
  '2',
  '-1',
  '99999999999999999999999999',
  '1e5',
  '<page><status><success>Record successfully added</success></status></page>',
  ']]><![CDATA[',
  '&amp;&lt;&#0;&#xD800;',
  "' OR 1=1; drop table users; --",
  '"; select pg_sleep(10); --',
  '\u0000',
  'a\u0000b',
  '\u0001\u0002\u001b[31m',
  '\r\nX-Injected: 1',
  '\ud800',
  '\uffff\ufffe',
  '😀'.repeat(300),
  '١٢٣',
  '${jndi:ldap://127.0.0.1/a}',
  '%s%n%x',
  '../../etc/passwd',
  'http://127.0.0.1:1/cb',
  'file:///etc/passwd',
  '0'.repeat(40),
  'G'.repeat(40),
];

const RAW_ENCODINGS = [
  '%',
  '%g1',
  '%E2%82',
  '%FF%FE',
  '%C0%AF',
  '%ED%A0%80',
  '%00',
  '+%2B+',
  '%%%',
];

function text(random: Random): string {
  const roll = random();
  if (roll < 0.6) return pick(random, NASTY_TEXT);
  if (roll < 0.8) return String(Math.floor(random() * 1e6));
  if (roll < 0.95) {
    return Array.from({ length: Math.floor(random() * 40) }, () =>
      String.fromCharCode(Math.floor(random() * 0x3000)),
    ).join('');
  }
  return 'x'.repeat(Math.floor(random() * 100_000));
}

/** encodeURIComponent, after dropping lone surrogates it cannot encode. */
function encode(value: string): string {
  return encodeURIComponent(value.replace(/[\ud800-\udfff]/g, ''));
}

/** A query string or form body, with broken escapes and bracket keys mixed in. */
function formText(random: Random): string {
  const many = random() < 0.02;
  const count = many ? 10_000 : Math.floor(random() * 12);
  const pairs: string[] = [];
  for (let index = 0; index < count; index++) {
    const key = random() < 0.85 ? pick(random, KEYS) : text(random).slice(0, 20);
    const bracket = random() < 0.1 ? pick(random, ['[]', '[a]', '[0][1]', '[']) : '';
    // Ten thousand params stay short each: the count is what is being tried there.
    const raw = many ? text(random).slice(0, 8) : text(random);
    const value = random() < 0.2 ? pick(random, RAW_ENCODINGS) : encode(raw);
    pairs.push(`${encode(key)}${bracket}=${value}`);
  }
  return pairs.join(random() < 0.1 ? '&&' : '&');
}

function jsonValue(random: Random, depth: number): string {
  const roll = random();
  if (roll < 0.4 || depth > 3) return JSON.stringify(text(random));
  if (roll < 0.55) return String(random() < 0.5 ? Math.floor(random() * 1e9) : '-0.5e-7');
  if (roll < 0.65) return pick(random, ['true', 'false', 'null']);
  if (roll < 0.8) return `[${jsonValue(random, depth + 1)}]`;
  return `{"${pick(random, KEYS)}":${jsonValue(random, depth + 1)}}`;
}

function jsonBody(random: Random): Buffer {
  const members = Array.from(
    { length: Math.floor(random() * 10) },
    () => `"${pick(random, KEYS)}":${jsonValue(random, 0)}`,
  );
  let body = `{${members.join(',')}}`;
  if (random() < 0.15) body = body.slice(0, Math.floor(random() * body.length));
  if (random() < 0.05) body = `[${body}]`;
  return Buffer.from(body);
}

function multipartBody(random: Random): { body: Buffer; type: string } {
  const boundary = `b${Math.floor(random() * 1e9)}`;
  const parts = Array.from({ length: Math.floor(random() * 8) }, () => {
    const file = random() < 0.1 ? '; filename="a.bin"' : '';
    return `--${boundary}\r\nContent-Disposition: form-data; name="${pick(random, KEYS)}"${file}\r\n\r\n${text(random).slice(0, 500)}\r\n`;
  });
  let body = Buffer.from(`${parts.join('')}--${boundary}--\r\n`);
  if (random() < 0.3) body = body.subarray(0, Math.floor(random() * body.length));
  const type =
    random() < 0.1 ? 'multipart/form-data' : `multipart/form-data; boundary=${boundary}`;
  return { body, type };
}

function invalidUtf8Body(random: Random): Buffer {
  const bytes = Buffer.from(formText(random));
  return Buffer.concat([
    bytes,
    Buffer.from([0x26, 0x6e, 0x61, 0x6d, 0x65, 0x3d, 0xff, 0xc3, 0x28, 0xed, 0xa0, 0x80]),
  ]);
}

/** Most requests go to the create paths; a few to job status and odd paths. */
const PATHS = [
  '/billing/api/phonebook_record_create',
  '/billing/api/phonebook_record_create',
  '/billing/api/phonebook_record_create',
  '/api/phonebook_record_create',
  '/api/phonebook_record_create',
  '/billing/api/jobs/',
  '/billing/api/phonebook_record_create/../jobs/x',
];

export function fuzzRequest(random: Random): FuzzRequest {
  const path = pick(random, PATHS);
  const jobPath = path.endsWith('/jobs/');
  const method = jobPath
    ? 'GET'
    : random() < 0.85
      ? 'POST'
      : pick(random, ['GET', 'PUT', 'HEAD', 'DELETE'] as const);
  const url = jobPath
    ? `${path}${encode(text(random).slice(0, 60))}`
    : `${path}?${formText(random)}`;
  const headers: Record<string, string> = {};
  if (random() < 0.3)
    headers.prefer = pick(random, [
      'respond-async',
      'wait=1, respond-async',
      'handling=strict',
    ]);
  if (random() < 0.1)
    headers['idempotency-key'] = pick(random, ['k1', 'k 2', 'x'.repeat(300), 'é']);
  if (random() < 0.1) headers.accept = 'application/json';
  if (method !== 'POST') return { method, url, headers };

  const kind = random();
  if (kind < 0.3) {
    headers['content-type'] = 'application/x-www-form-urlencoded';
    return { method, url, headers, payload: Buffer.from(formText(random)) };
  }
  if (kind < 0.5) {
    headers['content-type'] = pick(random, [
      'application/json',
      'application/json; charset=utf-8',
    ]);
    return { method, url, headers, payload: jsonBody(random) };
  }
  if (kind < 0.65) {
    const { body, type } = multipartBody(random);
    headers['content-type'] = type;
    return { method, url, headers, payload: body };
  }
  if (kind < 0.75) {
    headers['content-type'] = 'application/x-www-form-urlencoded';
    return { method, url, headers, payload: invalidUtf8Body(random) };
  }
  if (kind < 0.85) {
    headers['content-type'] = pick(random, [
      'text/plain',
      'application/xml',
      'image/png',
      'application/octet-stream',
    ]);
    return { method, url, headers, payload: Buffer.from(text(random)) };
  }
  if (kind < 0.9) {
    headers['content-type'] = 'application/x-www-form-urlencoded';
    return {
      method,
      url,
      headers,
      payload: Buffer.alloc(70_000 + Math.floor(random() * 100_000), 0x61),
    };
  }
  return { method, url, headers };
}
