/**
 * Training minibatches by a token budget (mleRows.minibatchSize): examples x the longest example's
 * length within batchTokens (default 4096, capped by the logits budget), at most batchSize examples,
 * and clear errors for an example longer than the budget and for a budget below 2.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { InputError } from '../../../src/engine/errors';
import type { Gemma2Config } from '../../../src/engine/model/types';
import { minibatchSize } from '../../../src/engine/train/mleRows';
import { resolveTrainSettings } from '../../../src/engine/train/trainSettings';

/** Only the vocabulary matters to the budgets. */
const small = { vocabSize: 1000 } as Gemma2Config;
/** The tiny model's (and about Gemma's) vocabulary: 64 Mi logits hold 255 tokens of it. */
const gemma = { vocabSize: 262_145 } as Gemma2Config;
const rows = (count: number, length: number, longest = length) => Array.from({ length: count }, (_, i) => new Array<number>(i === 0 ? longest : length).fill(2));

test('the default budget: 4096 tokens, counted as examples x the longest (padding counts)', () => {
  const settings = { batchSize: 1000, batchTokens: 4096 };
  assert.deepEqual(minibatchSize(settings, false, rows(1000, 100), small), { batchSize: 40, batchTokens: 4096 });
  // One long example makes every row that long.
  assert.deepEqual(minibatchSize(settings, false, rows(1000, 5, 100), small), { batchSize: 40, batchTokens: 4096 });
  assert.deepEqual(minibatchSize({ batchSize: 10, batchTokens: 4096 }, false, rows(10, 100), small), { batchSize: 10, batchTokens: 4096 }, 'a few examples: all of them');
});

test('the default budget is capped by the logits budget: 255 tokens at a vocabulary of 262145', () => {
  assert.deepEqual(minibatchSize({ batchSize: 2000, batchTokens: 4096 }, false, rows(2000, 20), gemma), { batchSize: 12, batchTokens: 255 });
  assert.throws(
    () => minibatchSize({ batchSize: 2, batchTokens: 4096 }, false, [[2, 3], new Array<number>(300).fill(2)], gemma),
    (e: unknown) =>
      e instanceof InputError &&
      /^example 2 is 300 tokens long, over the default minibatch budget of 255 tokens \(4096 capped by the logits budget, MICROSTEER_MAX_LOGITS 67108864 \/ vocabulary 262145\): raise MICROSTEER_MAX_LOGITS and give --batch-tokens/.test((e as Error).message),
  );
});

test('a given budget and batch size: the batch size caps the examples, the budget their tokens', () => {
  assert.deepEqual(minibatchSize({ batchSize: 3, batchTokens: 4096 }, false, rows(100, 10), small), { batchSize: 3, batchTokens: 4096 });
  assert.deepEqual(minibatchSize({ batchSize: 100, batchTokens: 50 }, true, rows(100, 20), small), { batchSize: 2, batchTokens: 50 });
  assert.deepEqual(minibatchSize({ batchSize: 100, batchTokens: 20 }, true, rows(100, 20), small), { batchSize: 1, batchTokens: 20 }, 'an example as long as the budget');
  assert.throws(
    () => minibatchSize({ batchSize: 100, batchTokens: 10 }, true, [[2, 3], new Array<number>(20).fill(2)], small),
    /^InputError: example 2 is 20 tokens long, over the minibatch budget of 10 tokens given by --batch-tokens \(microSteer\.training\.batchTokens\): raise it, or shorten the example$/,
  );
  // A given budget may not pass the logits budget: 50 examples x 20 tokens x 262145.
  assert.throws(() => minibatchSize({ batchSize: 100, batchTokens: 1000 }, true, rows(100, 20), gemma), /the minibatch of 50 examples that 1000 tokens hold \(--batch-tokens\) \(50 rows x 20 tokens x 262145 vocabulary\): its logits is 262145000, over the limit of 67108864 .*MICROSTEER_MAX_LOGITS/);
});

test('the settings: batchTokens defaults to 4096, and a budget below 2 or not an integer is refused', () => {
  const context = { defaultLayer: 2, numHiddenLayers: 4, exampleCount: 3 };
  assert.equal(resolveTrainSettings({}, context).batchTokens, 4096);
  assert.equal(resolveTrainSettings({ batchTokens: 2 }, context).batchTokens, 2);
  for (const bad of [1, 0, -5, 2.5, Number.NaN]) {
    assert.throws(() => resolveTrainSettings({ batchTokens: bad }, context), /the token budget of a minibatch \(batchTokens\) must be an integer of at least 2/, String(bad));
  }
});
