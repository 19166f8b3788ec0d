/**
 * The model processes' environment: glibc's trim threshold is set (see processEnv.ts for what it saves),
 * a value the user chose is kept, and nothing else of the environment changes.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MALLOC_TRIM_THRESHOLD, modelProcessEnv } from '../../../src/engine/processEnv';

test('the trim threshold is set where the environment has none, and the rest is kept', () => {
  const env = modelProcessEnv({ PATH: '/usr/bin', MICROSTEER_DEBUG: '1' });
  assert.deepEqual(env, { PATH: '/usr/bin', MICROSTEER_DEBUG: '1', MALLOC_TRIM_THRESHOLD_: MALLOC_TRIM_THRESHOLD });
});

test("a trim threshold the user set is the user's", () => {
  assert.equal(modelProcessEnv({ MALLOC_TRIM_THRESHOLD_: '4096' }).MALLOC_TRIM_THRESHOLD_, '4096');
});

test('the caller\'s environment object is not modified', () => {
  const base = { PATH: '/usr/bin' };
  modelProcessEnv(base);
  assert.deepEqual(base, { PATH: '/usr/bin' });
});
