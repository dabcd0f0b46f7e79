import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  countRecords,
  EXAMPLE_PATH,
  pageXml,
  startTestService,
  type TestService,
} from './harness.ts';

describe('the API page example', () => {
  let service: TestService;
  before(async () => {
    service = await startTestService();
  });
  after(async () => {
    await service.dispose();
  });

  it('stores the record when the example is sent exactly as printed', async () => {
    const response = await service.app!.inject({ method: 'POST', url: EXAMPLE_PATH });

    assert.equal(response.statusCode, 200);
    assert.equal(response.headers['content-type'], 'text/xml; charset=utf-8');
    assert.equal(response.body, pageXml('success', 'Record successfully added'));
    assert.equal(await countRecords(service), 1);
  });

  it('answers Speed dial must be unique when the example is sent again', async () => {
    const response = await service.app!.inject({ method: 'POST', url: EXAMPLE_PATH });

    assert.equal(response.statusCode, 200);
    assert.equal(response.body, pageXml('error', 'Speed dial must be unique'));
    assert.equal(await countRecords(service), 1);
  });
});
