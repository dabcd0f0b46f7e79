import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import { pendingJobXml } from '../src/xml.ts';
import type { JobState } from '../src/types.ts';
import { pendingXml } from './harness.ts';

/**
 * The pending answer is rendered once per state with a slot for the job id; every
 * answer made from it must be the very bytes a full rendering gives.
 */

const STATES: JobState[] = ['waiting', 'active', 'delayed', 'completed', 'failed'];

describe('pendingJobXml', () => {
  it('answers every state for every job id byte for byte, the first time and after', () => {
    for (const state of STATES) {
      for (const jobId of [randomUUID(), randomUUID(), randomUUID().toUpperCase()]) {
        assert.equal(pendingJobXml(jobId, state), pendingXml(jobId, state));
      }
    }
  });

  it('escapes an id that is not plain text instead of setting it into the answer', () => {
    assert.equal(
      pendingJobXml('a<b>&"c', 'waiting'),
      pendingXml('a&lt;b&gt;&amp;"c', 'waiting'),
    );
  });
});
