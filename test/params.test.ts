import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { computeHash } from '../src/hash.ts';
import {
  bareXml,
  callApi,
  countRecords,
  pageXml,
  sign,
  startTestService,
  type TestService,
} from './harness.ts';

/** Param sources and decoding (../shared/DESIGN.md section 2, "Endpoint and parameters"). */

const ADDED = pageXml('success', 'Record successfully added');
const FORM = 'application/x-www-form-urlencoded';
const notText = (name: string) =>
  bareXml(`Parameter ${name} must be a single text value`);

let service: TestService;
let speeddial = 700;

before(async () => {
  service = await startTestService();
});

after(async () => {
  await service.dispose();
});

function nextSpeeddial(): string {
  return String(speeddial++);
}

function hashOf(params: Record<string, string | Buffer>, secret = 'secret'): string {
  const bytes = Object.fromEntries(
    Object.entries(params).map(([k, v]) => [
      k,
      Buffer.isBuffer(v) ? v : Buffer.from(v, 'utf8'),
    ]),
  );
  return computeHash(bytes, secret);
}

async function storedBySpeeddial(value: string) {
  return service.db('phonebook_records').where({ speeddial: value }).first();
}

async function postRaw(rawQuery: string, body?: string | Buffer, contentType?: string) {
  return service.app!.inject({
    method: 'POST',
    url: `/billing/api/phonebook_record_create?${rawQuery}`,
    ...(contentType ? { headers: { 'content-type': contentType } } : {}),
    ...(body !== undefined ? { payload: body } : {}),
  });
}

function multipart(
  fields: Array<[string, string | Buffer, string?]>,
  boundary = 'XyZ123',
) {
  const parts = fields.map(([name, value, extraHeaders]) =>
    Buffer.concat([
      Buffer.from(
        `--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n${extraHeaders ?? ''}\r\n`,
      ),
      Buffer.isBuffer(value) ? value : Buffer.from(value),
      Buffer.from('\r\n'),
    ]),
  );
  return {
    body: Buffer.concat([...parts, Buffer.from(`--${boundary}--\r\n`)]),
    contentType: `multipart/form-data; boundary=${boundary}`,
  };
}

describe('where params come from', () => {
  it('reads every param from a form body', async () => {
    const params = {
      u: 'username',
      ...sign(
        { user_id: '2', number: '1', name: 'Form', speeddial: nextSpeeddial() },
        'secret',
      ),
    };
    const response = await callApi(service, {
      body: new URLSearchParams(params).toString(),
      contentType: FORM,
    });
    assert.equal(response.body, ADDED);
  });

  it('reads every param from a JSON body', async () => {
    const params = {
      u: 'username',
      ...sign(
        { user_id: '2', number: '1', name: 'Json', speeddial: nextSpeeddial() },
        'secret',
      ),
    };
    const response = await callApi(service, {
      body: JSON.stringify(params),
      contentType: 'application/json',
    });
    assert.equal(response.body, ADDED);
  });

  it('reads every param from a multipart body', async () => {
    const params = {
      u: 'username',
      ...sign(
        { user_id: '2', number: '1', name: 'Multi', speeddial: nextSpeeddial() },
        'secret',
      ),
    };
    const { body, contentType } = multipart(Object.entries(params));
    const response = await callApi(service, { body, contentType });
    assert.equal(response.body, ADDED);
  });

  it('merges query and body params', async () => {
    const dial = nextSpeeddial();
    const hash = hashOf({ user_id: '2', number: '1', name: 'Merged', speeddial: dial });
    const response = await postRaw(
      `u=username&hash=${hash}`,
      `user_id=2&number=1&name=Merged&speeddial=${dial}`,
      FORM,
    );
    assert.equal(response.body, ADDED);
  });

  it('lets the query string win a clash with the body', async () => {
    const dial = nextSpeeddial();
    const hash = hashOf({
      user_id: '2',
      number: '1',
      name: 'FromQuery',
      speeddial: dial,
    });
    const body = `u=username&user_id=2&number=1&name=FromBody&speeddial=${dial}&hash=${hash}`;
    const response = await postRaw('name=FromQuery', body, FORM);
    assert.equal(response.body, ADDED);
    assert.equal((await storedBySpeeddial(dial)).name, 'FromQuery');
  });

  it('keeps the last value of a repeated key', async () => {
    const dial = nextSpeeddial();
    const hash = hashOf({ user_id: '2', number: '1', name: 'second', speeddial: dial });
    const response = await postRaw(
      `u=username&user_id=2&number=1&name=first&name=second&speeddial=${dial}&hash=${hash}`,
    );
    assert.equal(response.body, ADDED);
    assert.equal((await storedBySpeeddial(dial)).name, 'second');
  });

  it('keeps the last member of a JSON object with a repeated key', async () => {
    const dial = nextSpeeddial();
    const hash = hashOf({ user_id: '2', number: '1', name: 'later', speeddial: dial });
    const body = `{"u":"username","user_id":"2","number":"1","name":"earlier","name":"later","speeddial":"${dial}","hash":"${hash}"}`;
    const response = await callApi(service, { body, contentType: 'application/json' });
    assert.equal(response.body, ADDED);
  });

  it('ignores a body of another content type and reads the query string alone', async () => {
    const params = {
      u: 'username',
      ...sign(
        { user_id: '2', number: '1', name: 'Text', speeddial: nextSpeeddial() },
        'secret',
      ),
    };
    const response = await callApi(service, {
      body: new URLSearchParams(params).toString(),
      contentType: 'text/plain',
    });
    assert.equal(response.body, pageXml('error', 'Access Denied'));
  });

  it('reads the query string when a JSON content type comes with an empty body', async () => {
    const params = {
      u: 'username',
      ...sign(
        { user_id: '2', number: '1', name: 'Empty', speeddial: nextSpeeddial() },
        'secret',
      ),
    };
    const response = await callApi(service, {
      query: params,
      body: '',
      contentType: 'application/json',
    });
    assert.equal(response.body, ADDED);
  });
});

describe('paths', () => {
  it('answers on /api/phonebook_record_create as on the billing path', async () => {
    const params = {
      u: 'username',
      ...sign(
        { user_id: '2', number: '1', name: 'Short', speeddial: nextSpeeddial() },
        'secret',
      ),
    };
    const response = await callApi(service, {
      path: '/api/phonebook_record_create',
      query: params,
    });
    assert.equal(response.body, ADDED);
  });

  it('accepts the billing path with a trailing slash', async () => {
    const params = {
      u: 'username',
      ...sign(
        { user_id: '2', number: '1', name: 'Slash', speeddial: nextSpeeddial() },
        'secret',
      ),
    };
    const response = await callApi(service, {
      path: '/billing/api/phonebook_record_create/',
      query: params,
    });
    assert.equal(response.body, ADDED);
  });

  it('answers 404 with an XML error on an unknown path', async () => {
    const response = await callApi(service, {
      path: '/billing/api/phonebook_record_delete',
    });
    assert.equal(response.statusCode, 404);
    assert.equal(response.body, bareXml('Not found'));
  });

  it('does not serve HEAD on the create path, so a HEAD never queues a call', async () => {
    const response = await service.app!.inject({
      method: 'HEAD',
      url: '/billing/api/phonebook_record_create',
    });
    assert.equal(response.statusCode, 404);
  });
});

describe('decoding', () => {
  it('ignores a UTF-8 byte order mark before a JSON body', async () => {
    const params = {
      u: 'username',
      ...sign(
        { user_id: '2', number: '1', name: 'Bom', speeddial: nextSpeeddial() },
        'secret',
      ),
    };
    const body = Buffer.concat([
      Buffer.from([0xef, 0xbb, 0xbf]),
      Buffer.from(JSON.stringify(params)),
    ]);
    const response = await callApi(service, {
      body,
      contentType: 'application/json; charset=utf-8',
    });
    assert.equal(response.body, ADDED);
  });

  it('decodes + as a space', async () => {
    const dial = nextSpeeddial();
    const hash = hashOf({ user_id: '2', number: '1', name: 'a b', speeddial: dial });
    const response = await postRaw(
      `u=username&user_id=2&number=1&name=a+b&speeddial=${dial}&hash=${hash}`,
    );
    assert.equal(response.body, ADDED);
    assert.equal((await storedBySpeeddial(dial)).name, 'a b');
  });

  it('decodes %2B as a plus sign', async () => {
    const dial = nextSpeeddial();
    const hash = hashOf({ user_id: '2', number: '1', name: 'a+b', speeddial: dial });
    const response = await postRaw(
      `u=username&user_id=2&number=1&name=a%2Bb&speeddial=${dial}&hash=${hash}`,
    );
    assert.equal(response.body, ADDED);
    assert.equal((await storedBySpeeddial(dial)).name, 'a+b');
  });

  it('keeps a percent sign that starts no valid escape', async () => {
    const dial = nextSpeeddial();
    const hash = hashOf({ user_id: '2', number: '1', name: '100%zz', speeddial: dial });
    const response = await postRaw(
      `u=username&user_id=2&number=1&name=100%zz&speeddial=${dial}&hash=${hash}`,
    );
    assert.equal(response.body, ADDED);
    assert.equal((await storedBySpeeddial(dial)).name, '100%zz');
  });

  it('counts a JSON number as its text, so 2 is the user 2', async () => {
    const dial = nextSpeeddial();
    const hash = hashOf({ user_id: '2', number: '1', name: 'Num', speeddial: dial });
    const body = `{"u":"username","user_id":2,"number":1,"name":"Num","speeddial":${dial},"hash":"${hash}"}`;
    const response = await callApi(service, { body, contentType: 'application/json' });
    assert.equal(response.body, ADDED);
  });

  it('keeps every digit of a JSON number too large for a double', async () => {
    const dial = nextSpeeddial();
    const number = '12345678901234567890123';
    const hash = hashOf({ user_id: '2', number, name: 'Big', speeddial: dial });
    const body = `{"u":"username","user_id":"2","number":${number},"name":"Big","speeddial":"${dial}","hash":"${hash}"}`;
    const response = await callApi(service, { body, contentType: 'application/json' });
    assert.equal(response.body, ADDED);
    assert.equal((await storedBySpeeddial(dial)).number, number);
  });

  it('keeps a JSON number in exponent form as written, which is not numeric for MOR', async () => {
    const dial = nextSpeeddial();
    const hash = hashOf({ user_id: '2', number: '1e5', name: 'Exp', speeddial: dial });
    const body = `{"u":"username","user_id":"2","number":1e5,"name":"Exp","speeddial":"${dial}","hash":"${hash}"}`;
    const response = await callApi(service, { body, contentType: 'application/json' });
    assert.equal(response.body, pageXml('error', 'Record number must be numeric'));
  });

  it('decodes JSON string escapes, surrogate pairs included', async () => {
    const dial = nextSpeeddial();
    const name = 'é 😀 "q"';
    const hash = hashOf({ user_id: '2', number: '1', name, speeddial: dial });
    const body = `{"u":"username","user_id":"2","number":"1","name":"\\u00e9 \\ud83d\\ude00 \\"q\\"","speeddial":"${dial}","hash":"${hash}"}`;
    const response = await callApi(service, { body, contentType: 'application/json' });
    assert.equal(response.body, ADDED);
    assert.equal((await storedBySpeeddial(dial)).name, name);
  });

  it('answers the invalid name text for a JSON lone surrogate signed as its bytes', async () => {
    const dial = nextSpeeddial();
    const name = Buffer.from([0x61, 0xed, 0xa0, 0x80]);
    const hash = hashOf({ user_id: '2', number: '1', name, speeddial: dial });
    const body = `{"u":"username","user_id":"2","number":"1","name":"a\\ud800","speeddial":"${dial}","hash":"${hash}"}`;
    const response = await callApi(service, { body, contentType: 'application/json' });
    assert.equal(
      response.body,
      pageXml('error', 'Speed Dial name must be valid UTF-8 text without NUL characters'),
    );
  });

  it('answers the invalid name text for invalid UTF-8 signed as the bytes received', async () => {
    const dial = nextSpeeddial();
    const hash = hashOf({
      user_id: '2',
      number: '1',
      name: Buffer.from([0x61, 0xff]),
      speeddial: dial,
    });
    const response = await postRaw(
      `u=username&user_id=2&number=1&name=a%FF&speeddial=${dial}&hash=${hash}`,
    );
    assert.equal(
      response.body,
      pageXml('error', 'Speed Dial name must be valid UTF-8 text without NUL characters'),
    );
  });

  it('sees invalid UTF-8 sent raw in a form body, not percent-encoded', async () => {
    const dial = nextSpeeddial();
    const name = Buffer.from([0x62, 0xc3]);
    const hash = hashOf({ user_id: '2', number: '1', name, speeddial: dial });
    const body = Buffer.concat([
      Buffer.from(`u=username&user_id=2&number=1&speeddial=${dial}&hash=${hash}&name=`),
      name,
    ]);
    const response = await callApi(service, { body, contentType: FORM });
    assert.equal(
      response.body,
      pageXml('error', 'Speed Dial name must be valid UTF-8 text without NUL characters'),
    );
  });

  it("keeps a multipart part's UTF-8 bytes even when the part declares a charset", async () => {
    const dial = nextSpeeddial();
    const params = {
      u: 'username',
      ...sign({ user_id: '2', number: '1', name: 'Crème', speeddial: dial }, 'secret'),
    };
    const fields = Object.entries(params).map(
      ([k, v]) =>
        [k, v, 'Content-Type: text/plain; charset=UTF-8\r\n'] as [string, string, string],
    );
    const { body, contentType } = multipart(fields);
    const response = await callApi(service, { body, contentType });
    assert.equal(response.body, ADDED);
    assert.equal((await storedBySpeeddial(dial)).name, 'Crème');
  });

  it('answers Access Denied for a username that is not valid UTF-8', async () => {
    const response = await postRaw('u=user%FFname&user_id=2');
    assert.equal(response.body, pageXml('error', 'Access Denied'));
  });

  it('answers Access Denied for a username holding a NUL', async () => {
    const response = await postRaw('u=username%00&user_id=2');
    assert.equal(response.body, pageXml('error', 'Access Denied'));
  });
});

describe('params that are not one text value', () => {
  it('refuses name[]= style keys with a clear error', async () => {
    const response = await postRaw('u=username&name[]=a');
    assert.equal(response.statusCode, 400);
    assert.equal(response.body, notText('name'));
  });

  it('refuses name[]= even when a plain name follows it', async () => {
    const response = await postRaw('u=username&name[]=b&name=n');
    assert.equal(response.statusCode, 400);
    assert.equal(response.body, notText('name'));
  });

  it('refuses a JSON array member even when a string member of that name follows', async () => {
    const response = await callApi(service, {
      body: '{"u":"username","name":["x"],"name":"y"}',
      contentType: 'application/json',
    });
    assert.equal(response.statusCode, 400);
    assert.equal(response.body, notText('name'));
  });

  it('refuses name[key]= style keys in a form body', async () => {
    const response = await callApi(service, {
      body: 'u=username&speeddial[x]=12',
      contentType: FORM,
    });
    assert.equal(response.statusCode, 400);
    assert.equal(response.body, notText('speeddial'));
  });

  for (const [kind, value] of [
    ['an array', '["a"]'],
    ['an object', '{"a":"b"}'],
    ['a boolean', 'true'],
    ['null', 'null'],
  ]) {
    it(`refuses a JSON param that is ${kind}`, async () => {
      const response = await callApi(service, {
        body: `{"u":"username","number":${value}}`,
        contentType: 'application/json',
      });
      assert.equal(response.statusCode, 400);
      assert.equal(response.body, notText('number'));
    });
  }

  it('refuses a multipart file part in place of a param', async () => {
    const { body, contentType } = multipart([
      ['u', 'username'],
      ['name"; filename="a.txt', 'x'],
    ]);
    const response = await callApi(service, { body, contentType });
    assert.equal(response.statusCode, 400);
    assert.equal(response.body, notText('name'));
  });

  it('ignores an array under a key that is no param of the call', async () => {
    const params = {
      u: 'username',
      ...sign(
        { user_id: '2', number: '1', name: 'Extra', speeddial: nextSpeeddial() },
        'secret',
      ),
    };
    const response = await postRaw(`${new URLSearchParams(params)}&extra[]=1&p[]=x`);
    assert.equal(response.body, ADDED);
  });

  it('answers a malformed JSON body with a clear error', async () => {
    const response = await callApi(service, {
      body: '{"u":"username",',
      contentType: 'application/json',
    });
    assert.equal(response.statusCode, 400);
    assert.equal(response.body, bareXml('Request body could not be parsed'));
  });

  it('answers a JSON body that is not an object with a clear error', async () => {
    const response = await callApi(service, {
      body: '["u"]',
      contentType: 'application/json',
    });
    assert.equal(response.statusCode, 400);
    assert.equal(response.body, bareXml('Request body could not be parsed'));
  });

  it('answers a truncated multipart body with a clear error', async () => {
    const { body, contentType } = multipart([['u', 'username']]);
    const response = await callApi(service, {
      body: body.subarray(0, body.length - 12),
      contentType,
    });
    assert.equal(response.statusCode, 400);
    assert.equal(response.body, bareXml('Request body could not be parsed'));
  });

  it('answers a body past the limit with 413', async () => {
    const response = await callApi(service, {
      body: `name=${'a'.repeat(70_000)}`,
      contentType: FORM,
    });
    assert.equal(response.statusCode, 413);
    assert.equal(response.body, bareXml('Request body is too large'));
  });

  it('answers too many params with 413', async () => {
    const body = Array.from({ length: 1_001 }, (_, i) => `k${i}=v`).join('&');
    const response = await callApi(service, { body, contentType: FORM });
    assert.equal(response.statusCode, 413);
    assert.equal(response.body, bareXml('Request has too many parameters'));
  });

  it('stores nothing for a refused request', async () => {
    const before = await countRecords(service);
    await postRaw('u=username&name[]=a&user_id=2&number=1&speeddial=99');
    assert.equal(await countRecords(service), before);
  });
});

describe('the password p', () => {
  it('is never queued: the job in Redis holds no p and no password text', async () => {
    const ingressOnly = await startTestService({}, { ingress: true, worker: false });
    try {
      const params = {
        ...sign({ user_id: '2', number: '1', name: 'Pw', speeddial: '12' }, 'secret'),
      };
      const response = await callApi(ingressOnly, {
        query: { u: 'username', p: 'hunter2-password', ...params, async: '1' },
      });
      assert.equal(response.statusCode, 202);

      const jobId = /<job_id>([^<]+)</.exec(response.body)?.[1] as string;
      const job = await ingressOnly.queue.getJob(jobId);
      assert.ok(job, 'the job is queued');
      assert.equal('p' in job.data.params, false);
      assert.equal(JSON.stringify(job.data).includes('hunter2-password'), false);
      assert.equal(job.data.params.u, 'username');
    } finally {
      await ingressOnly.dispose();
    }
  });
});
