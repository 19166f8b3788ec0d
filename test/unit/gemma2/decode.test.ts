/**
 * KV-cached decode, batching and padding of the forward graph: decode equals prefill, rows of one
 * batch with different planes, alphas and lengths equal their separate runs, and changing the plane
 * never opens another session.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { SteerRow } from '../../../src/engine/gemma2/batchRows';
import { Gemma2Runner } from '../../../src/engine/gemma2/runner';
import { referenceForward } from '../../reference/gemma2Reference';
import { maxAbsDiff, rowOf, seededIds, seededPlane, tinyModel, type TinyModel } from './gemma2TestKit';

/** Two float32 runs of the same numbers that differ only in batching, padding or caching. */
const SAME_RUN_TOLERANCE = 2e-5;

let tiny: TinyModel;
let runner: Gemma2Runner;

before(async () => {
  tiny = await tinyModel();
  runner = await Gemma2Runner.open(tiny.folder, { device: 'cpu' });
});
after(() => runner.release());

const plane = (seed: number, alpha: number, positions: SteerRow['positions'] = 'all'): SteerRow => ({
  ...seededPlane(tiny.folder.config.hiddenSize, seed),
  alpha,
  positions,
});

test('decoding token by token past the sliding window equals prefill of each prefix, steered', async () => {
  const ids = seededIds(20, 2);
  const steer = [plane(3, 2)];
  let step = await runner.prefill([ids.slice(0, 4)], steer);
  let worst = 0;
  for (let t = 4; t < ids.length; t++) {
    step = await runner.decode(step.cache, [ids[t]], steer);
    const full = await runner.prefill([ids.slice(0, t + 1)], steer);
    worst = Math.max(worst, maxAbsDiff(step.logits, full.logits));
  }
  assert.equal(step.cache.length, ids.length);
  assert.ok(worst <= SAME_RUN_TOLERANCE, `decode vs prefill: max abs difference ${worst}`);
});

test('a left-padded batch decodes each row as the reference does alone', async () => {
  const rows = [seededIds(3, 4), seededIds(9, 5)];
  const next = [seededIds(10, 6), seededIds(10, 7)];
  let step = await runner.prefill(rows);
  for (let t = 0; t < 10; t++) step = await runner.decode(step.cache, [next[0][t], next[1][t]]);
  const vocab = tiny.folder.config.vocabSize;
  rows.forEach((row, i) => {
    const [expected] = referenceForward(tiny.reference, [[...row, ...next[i]]]);
    const diff = maxAbsDiff(rowOf(step.logits, i, vocab), expected.lastLogits);
    assert.ok(diff <= 1e-4, `row ${i}: max abs difference ${diff} from the reference`);
  });
});

test('rows with different planes, alphas and lengths in one batch equal their separate runs', async () => {
  const rows = [seededIds(6, 8), seededIds(14, 9), seededIds(11, 10)];
  const steer = [plane(11, 1.7), null, plane(12, 3, 'last')];
  const batched = await runner.prefill(rows, steer);
  const vocab = tiny.folder.config.vocabSize;
  for (let i = 0; i < rows.length; i++) {
    const alone = await runner.prefill([rows[i]], [steer[i]]);
    const diff = maxAbsDiff(rowOf(batched.logits, i, vocab), alone.logits);
    assert.ok(diff <= SAME_RUN_TOLERANCE, `row ${i}: batched vs alone ${diff}`);
  }
  // Same ids, different alphas: the rows must differ, so per-row inputs really are per row.
  const twice = await runner.prefill([rows[0], rows[0]], [plane(11, 1.7), plane(11, 3)]);
  assert.ok(maxAbsDiff(rowOf(twice.logits, 0, vocab), rowOf(twice.logits, 1, vocab)) > 0.05);
});

test('padding a row does not change another row, and a padded row equals its unpadded run', async () => {
  const short = seededIds(4, 13);
  const long = seededIds(15, 14);
  const vocab = tiny.folder.config.vocabSize;
  const together = await runner.prefill([short, long]);
  const shortAlone = await runner.prefill([short]);
  const longAlone = await runner.prefill([long]);
  assert.ok(maxAbsDiff(rowOf(together.logits, 0, vocab), shortAlone.logits) <= SAME_RUN_TOLERANCE);
  assert.ok(maxAbsDiff(rowOf(together.logits, 1, vocab), longAlone.logits) <= SAME_RUN_TOLERANCE);
});

test('changing the plane, alpha or steered positions reuses the same session', async () => {
  const ids = seededIds(8, 15);
  const session = await runner.session('forward');
  const a = await runner.prefill([ids], [plane(16, 1)]);
  const b = await runner.prefill([ids], [plane(17, 2.5, 'last')]);
  assert.equal(await runner.session('forward'), session);
  assert.ok(maxAbsDiff(a.logits, b.logits) > 0.01, 'the two planes should give different logits');
});
