/**
 * The compiled forward graph against the float64 reference (plain loops) on the tiny model, with a
 * sequence longer than its sliding window (20 tokens, window 8), with and without a plane.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Gemma2Runner } from '../../../src/engine/gemma2/runner';
import { referenceForward, referenceNll, type RowSteer } from '../../reference/gemma2Reference';
import { maxAbsDiff, rowOf, seededIds, seededPlane, tinyModel, type TinyModel } from './gemma2TestKit';

/** float32 graph vs float64 reference, F32 weights. */
const LOGIT_TOLERANCE = 1e-4;

let tiny: TinyModel;
let runner: Gemma2Runner;
const ids = seededIds(20, 1);

before(async () => {
  tiny = await tinyModel();
  runner = await Gemma2Runner.open(tiny.folder, { device: 'cpu' });
});
after(() => runner.release());

function steerOf(positions: 'all' | 'last', alpha: number): RowSteer {
  const plane = seededPlane(tiny.folder.config.hiddenSize, 7);
  const length = ids.length;
  return { ...plane, alpha, layer: runner.hookLayer, positions: ids.map((_, t) => positions === 'all' || t === length - 1) };
}

test('the window is shorter than the test sequence, so sliding layers differ from global ones', () => {
  assert.ok(tiny.folder.config.slidingWindow < ids.length);
  assert.ok(tiny.folder.config.slidingLayers.includes(true) && tiny.folder.config.slidingLayers.includes(false));
});

test('unsteered logits at every position match the reference (each prefix as a left-padded row of one batch)', async () => {
  const [expected] = referenceForward(tiny.reference, [ids], { logits: 'all' });
  const prefixes = ids.map((_, t) => ids.slice(0, t + 1));
  const { logits } = await runner.prefill(prefixes);
  const vocab = tiny.folder.config.vocabSize;
  const worst = Math.max(...prefixes.map((_, t) => maxAbsDiff(rowOf(logits, t, vocab), expected.logits![t]!)));
  assert.ok(worst <= LOGIT_TOLERANCE, `max abs logit difference ${worst} > ${LOGIT_TOLERANCE}`);
});

for (const positions of ['all', 'last'] as const) {
  test(`a plane at ${positions} positions gives the reference's steered logits`, async () => {
    const steer = steerOf(positions, 2.5);
    const [expected] = referenceForward(tiny.reference, [ids], { steer: [steer] });
    const [unsteered] = referenceForward(tiny.reference, [ids]);
    const { logits } = await runner.prefill([ids], [{ n: steer.n, b: steer.b, alpha: steer.alpha, positions }]);
    const diff = maxAbsDiff(logits, expected.lastLogits);
    assert.ok(diff <= LOGIT_TOLERANCE, `max abs logit difference ${diff} > ${LOGIT_TOLERANCE}`);
    // The plane must matter, or this test would not notice a hook that does nothing.
    assert.ok(maxAbsDiff(expected.lastLogits, unsteered.lastLogits) > 0.05);
  });
}

test('a zero plane is exactly the identity, at every position', async () => {
  const hidden = tiny.folder.config.hiddenSize;
  const plain = await runner.prefill([ids]);
  const zero = await runner.prefill([ids], [{ n: new Float64Array(hidden), b: 0.5, alpha: 3, positions: 'all' }]);
  assert.deepEqual(zero.logits, plain.logits);
});

test('forwardNll: the mean NLL of ids[1:] and the last logits match the reference, steered at all positions', async () => {
  const steer = steerOf('all', 1.5);
  const [result] = await runner.forwardNll([ids], [{ n: steer.n, b: steer.b, alpha: steer.alpha, positions: 'all' }]);
  const expectedNll = referenceNll(tiny.reference, ids, steer);
  assert.ok(Math.abs(result.nll - expectedNll) <= 1e-5, `nll ${result.nll} vs reference ${expectedNll}`);
  const [expected] = referenceForward(tiny.reference, [ids], { steer: [steer] });
  assert.ok(maxAbsDiff(result.lastLogits, expected.lastLogits) <= LOGIT_TOLERANCE);
});

test('hook-site activations match the reference residual stream and unsteered y at the hook layer', async () => {
  const [sites] = await runner.hookActivations([ids]);
  const [expected] = referenceForward(tiny.reference, [ids], { captureLayer: runner.hookLayer });
  const hidden = tiny.folder.config.hiddenSize;
  let worst = 0;
  expected.hookSites!.forEach((site, t) => {
    worst = Math.max(worst, maxAbsDiff(rowOf(sites.residual, t, hidden), site!.residual), maxAbsDiff(rowOf(sites.y, t, hidden), site!.y));
  });
  assert.ok(worst <= LOGIT_TOLERANCE, `max abs difference ${worst}`);
});
