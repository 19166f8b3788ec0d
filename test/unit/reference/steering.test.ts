// The steering hook (DESIGN.md section 1) and the method's loss in the float64 reference.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InputError } from '../../../src/engine/errors';
import { referenceDecoderLayer, referenceForward, referenceLogits, referenceNll, referenceSteeringLoss, type RowSteer } from '../../reference/gemma2Reference';
import { randomGemma2, seededNormals, smallGemma2Config } from '../../reference/randomGemma2';
import { hookScale, steerHookSite } from '../../reference/steering';

const config = smallGemma2Config();
const model = randomGemma2(config, 21);
const d = config.hiddenSize;
const ids = [2, 9, 30, 4, 22, 15];
const normal = seededNormals(4);

function unitVector(): Float64Array {
  const n = Float64Array.from({ length: d }, normal);
  const norm = Math.hypot(...n);
  return n.map((x) => x / norm);
}
const dotOf = (a: ArrayLike<number>, b: ArrayLike<number>) => Array.from(a).reduce((s, x, i) => s + x * b[i], 0);

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i] - b[i]));
  return max;
}

test('hookScale is (1 + w) * sqrt(d)', () => {
  assert.deepEqual(Array.from(hookScale([0, 1, -0.5])), [Math.sqrt(3), 2 * Math.sqrt(3), 0.5 * Math.sqrt(3)]);
});

test('hook with n = 0 is the identity (relative 1e-15)', () => {
  const r = hookScale(Float64Array.from({ length: d }, () => 0.3 * normal()));
  const y = Float64Array.from({ length: d }, normal);
  const out = steerHookSite(y, r, { n: new Float64Array(d), b: 0.4 }, 2.5);
  for (let i = 0; i < d; i++) assert.ok(Math.abs(out[i] - y[i]) <= 1e-15 * Math.abs(y[i]) + 1e-300, `feature ${i}`);
});

test('hook with |n| = 1: dot(n, v\') = alpha - b when dot(n, v) + b > 0, dot(n, v) + alpha otherwise; v\' - v is along n', () => {
  const r = hookScale(Float64Array.from({ length: d }, () => 0.3 * normal()));
  const n = unitVector();
  const alpha = 1.7;
  for (const b of [5, -5]) {
    // |dot(n, v)| is well below 5 for this y, so b = 5 puts s > 0 and b = -5 puts s = 0.
    const y = Float64Array.from({ length: d }, (_, i) => r[i] * 0.1 * normal());
    const v = y.map((x, i) => x / r[i]);
    const vPrime = steerHookSite(y, r, { n, b }, alpha).map((x, i) => x / r[i]);
    const expected = b > 0 ? alpha - b : dotOf(n, v) + alpha;
    assert.ok(Math.abs(dotOf(n, vPrime) - expected) <= 1e-12, `b = ${b}: dot(n, v') = ${dotOf(n, vPrime)}, expected ${expected}`);
    const delta = vPrime.map((x, i) => x - v[i]);
    const along = dotOf(delta, n);
    assert.ok(maxAbsDiff(delta, n.map((x) => along * x)) <= 1e-12, `b = ${b}: v' - v is not along n`);
  }
});

const plane = (positions: boolean[], n = unitVector()): RowSteer => ({ n, b: 0.2, alpha: 2.3, layer: 2, positions });

test('steering with every position off, or with n = 0, leaves the logits unchanged', () => {
  const [plain] = referenceForward(model, [ids], { logits: 'all' });
  const [off] = referenceForward(model, [ids], { logits: 'all', steer: [plane(ids.map(() => false))] });
  const [zero] = referenceForward(model, [ids], { logits: 'all', steer: [plane(ids.map(() => true), new Float64Array(d))] });
  for (let t = 0; t < ids.length; t++) {
    assert.equal(maxAbsDiff(off.logits![t]!, plain.logits![t]!), 0, `positions off, position ${t}`);
    assert.ok(maxAbsDiff(zero.logits![t]!, plain.logits![t]!) <= 1e-12, `n = 0, position ${t}`);
  }
});

test('steering position 3 only changes positions 3 and later; rows of a batch steer independently', () => {
  const only3 = plane(ids.map((_, t) => t === 3));
  const [plain, steered] = referenceForward(model, [ids, ids], { logits: 'all', steer: [null, only3] });
  const [alone] = referenceForward(model, [ids], { logits: 'all' });
  for (let t = 0; t < ids.length; t++) {
    assert.equal(maxAbsDiff(plain.logits![t]!, alone.logits![t]!), 0, `unsteered row, position ${t}`);
    const diff = maxAbsDiff(steered.logits![t]!, plain.logits![t]!);
    if (t < 3) assert.equal(diff, 0, `position ${t}`);
    else assert.ok(diff > 1e-6, `position ${t} should change, diff ${diff}`);
  }
});

test('captured hook site: the upper layers run from residual + steered y reproduce the steered logits (1e-12)', () => {
  const steer = plane(ids.map(() => true));
  const [row] = referenceForward(model, [ids], { logits: 'all', steer: [steer], captureLayer: steer.layer });
  const r = hookScale(model.weights.get(`model.layers.${steer.layer}.post_feedforward_layernorm.weight`)!);
  let hidden: (Float64Array | null)[] = row.hookSites!.map((site) => {
    const y = steerHookSite(site!.y, r, steer, steer.alpha);
    return site!.residual.map((x, i) => x + y[i]);
  });
  const positions = ids.map((_, t) => t);
  for (let layer = steer.layer + 1; layer < config.numHiddenLayers; layer++) hidden = referenceDecoderLayer(model, layer, hidden, positions).hidden;
  for (let t = 0; t < ids.length; t++) assert.ok(maxAbsDiff(referenceLogits(model, hidden[t]!), row.logits![t]!) <= 1e-12, `position ${t}`);
});

const lossOptions = { alpha: 1, lambdaMle: 1e4, lambdaCap: 0.1, lambdaTheta: 0.1 };

test('steering loss at n = 0, b = 0: L_cap = -1/2, theta term = pi/2, NLL pooled over all targets', () => {
  const examples = [ids, [2, 11, 7]];
  const zero = { n: new Float64Array(d), b: 0, layer: 1 };
  const pooled = (referenceNll(model, examples[0]) * 5 + referenceNll(model, examples[1]) * 2) / 7;
  const plain = referenceSteeringLoss(model, examples, zero, { ...lossOptions, useAveraging: false });
  assert.ok(Math.abs(plain.nll - pooled) <= 1e-12, `nll ${plain.nll} vs ${pooled}`);
  assert.ok(Math.abs(plain.loss - 1e4 * pooled) <= 1e-8);
  const averaged = referenceSteeringLoss(model, examples, zero, { ...lossOptions, useAveraging: true });
  assert.ok(Math.abs(averaged.capLoss + 0.5) <= 1e-15);
  assert.ok(Math.abs(averaged.thetaLoss - Math.PI / 2) <= 1e-15);
  assert.ok(Math.abs(averaged.loss - (1e4 * pooled + 0.1 * -0.5 + 0.1 * (Math.PI / 2))) <= 1e-8);
});

test('steering loss: theta term clamps -b to [-0.999, 0.999]; L_cap is the mean sigmoid over every token', () => {
  const n = unitVector();
  const examples = [ids, [2, 11, 7]];
  assert.ok(Math.abs(referenceSteeringLoss(model, examples, { n, b: 0.5, layer: 1 }, { ...lossOptions, useAveraging: true }).thetaLoss - (2 * Math.PI) / 3) <= 1e-12);
  const saturated = referenceSteeringLoss(model, examples, { n, b: -1, layer: 1 }, { ...lossOptions, useAveraging: true });
  assert.ok(Math.abs(saturated.thetaLoss - Math.acos(0.999)) <= 1e-15);
  // L_cap from the unsteered sites, with r written out here: (1 + w) * sqrt(16) = (1 + w) * 4.
  const w = model.weights.get('model.layers.1.post_feedforward_layernorm.weight')!;
  let sum = 0;
  let count = 0;
  for (const example of examples) {
    const [row] = referenceForward(model, [example], { captureLayer: 1 });
    for (const site of row.hookSites!) {
      const z = Array.from(site!.y).reduce((s, y, i) => s + (y / ((1 + w[i]) * 4)) * n[i], 0) - 1;
      sum += 1 / (1 + Math.exp(-z));
      count++;
    }
  }
  assert.equal(count, 9);
  assert.ok(Math.abs(saturated.capLoss + sum / count) <= 1e-12);
});

test('a plane of the wrong width is an InputError', () => {
  assert.throws(() => referenceForward(model, [ids], { steer: [plane(ids.map(() => true), new Float64Array(d + 1))] }), (e) => e instanceof InputError && /hidden_size 16/.test(e.message));
});
