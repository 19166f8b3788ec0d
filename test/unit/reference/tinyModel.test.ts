// The reference on the project's tiny model folder (read through the engine's model reader), with rows
// longer than its sliding window. Logits for the full 262k vocabulary cost vocab * hidden per position,
// so most checks use last-position logits.
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { openModelFolder } from '../../../src/engine/model/modelFolder';
import { readTensor } from '../../../src/engine/model/tensorData';
import { ensureTinyModel } from '../../fixtures/tinyModel';
import { loadReferenceModel, referenceDecoderLayer, referenceForward, type ReferenceModel } from '../../reference/gemma2Reference';

let model: ReferenceModel;
before(async () => {
  model = await loadReferenceModel(await openModelFolder(await ensureTinyModel()), readTensor);
});

const ids = [2, 651, 6037, 8426, 576, 1277, 603, 573, 5579, 235265, 714, 1744]; // 12 tokens, window 8

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i] - b[i]));
  return max;
}

test('tiny model: the window is shorter than the test row, and layer 0 slides while layer 1 does not', () => {
  assert.ok(model.config.slidingWindow < ids.length, `window ${model.config.slidingWindow}`);
  assert.deepEqual(model.config.slidingLayers.slice(0, 2), [true, false]);
});

test('tiny model: logits are finite, spread, and within the final soft cap', () => {
  const [row] = referenceForward(model, [ids]);
  const cap = model.config.finalLogitSoftcapping!;
  let min = Infinity;
  let max = -Infinity;
  for (const z of row.lastLogits) {
    assert.ok(Number.isFinite(z) && Math.abs(z) < cap);
    min = Math.min(min, z);
    max = Math.max(max, z);
  }
  assert.ok(max - min > 1, `logit range ${max - min} is too narrow to test anything`);
});

test('tiny model: the last logits of each prefix do not depend on the tokens after it (causal)', () => {
  const [full] = referenceForward(model, [ids.slice(0, 9)], { logits: 'all' });
  const [prefix] = referenceForward(model, [ids.slice(0, 6)]);
  assert.ok(maxAbsDiff(prefix.lastLogits, full.logits![5]!) <= 1e-12);
  assert.ok(maxAbsDiff(full.logits![5]!, full.logits![8]!) > 1e-3, 'different positions should differ');
});

test('tiny model: a left-padded row in a batch gives its unpadded logits (tolerance 1e-12)', () => {
  const short = ids.slice(0, 10);
  const mask = [ids.map(() => 1), [0, 0, ...short.map(() => 1)]];
  const [long, padded] = referenceForward(model, [ids, [0, 0, ...short]], { attentionMask: mask });
  const [plainLong, plainShort] = referenceForward(model, [ids, short]);
  assert.ok(maxAbsDiff(long.lastLogits, plainLong.lastLogits) <= 1e-12);
  assert.ok(maxAbsDiff(padded.lastLogits, plainShort.lastLogits) <= 1e-12);
});

test('tiny model: past the window, token 0 leaves sliding layer 0 untouched but reaches global layer 1', () => {
  const embed = model.weights.get('model.embed_tokens.weight')!;
  const d = model.config.hiddenSize;
  const row = (first: number) => ids.map((id, t) => Float64Array.from(embed.subarray((t === 0 ? first : id) * d, ((t === 0 ? first : id) + 1) * d)));
  const positions = ids.map((_, t) => t);
  const window = model.config.slidingWindow;
  for (const layer of [0, 1]) {
    const a = referenceDecoderLayer(model, layer, row(ids[0]), positions).hidden;
    const b = referenceDecoderLayer(model, layer, row(7), positions).hidden;
    const changed = a.map((x, t) => maxAbsDiff(x!, b[t]!) > 0);
    const expected = ids.map((_, t) => layer === 1 || t < window);
    assert.deepEqual(changed, expected, `layer ${layer}`);
  }
});

test('tiny model: steering the last position at the default hook layer moves only the last logits', () => {
  const d = model.config.hiddenSize;
  const n = Float64Array.from({ length: d }, (_, i) => Math.cos(i * 1.3));
  const norm = Math.hypot(...n);
  const steer = { n: n.map((x) => x / norm), b: 0, alpha: 3, layer: Math.floor(model.config.numHiddenLayers / 2), positions: ids.map((_, t) => t === ids.length - 1) };
  const [plain, steered] = referenceForward(model, [ids, ids], { steer: [null, steer], captureLayer: steer.layer });
  assert.ok(maxAbsDiff(plain.lastLogits, steered.lastLogits) > 1e-3, 'the plane should move the last logits');
  for (let t = 0; t < ids.length; t++) assert.equal(maxAbsDiff(plain.hookSites![t]!.y, steered.hookSites![t]!.y), 0, `unsteered y at ${t}`);
});
