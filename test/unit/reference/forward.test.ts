// Whole-model properties of the float64 reference on a seeded random small Gemma-2 held in memory.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InputError } from '../../../src/engine/errors';
import { makeReferenceModel, referenceForward, referenceLogits, referenceNll } from '../../reference/gemma2Reference';
import { randomGemma2, smallGemma2Config } from '../../reference/randomGemma2';

const config = smallGemma2Config();
const model = randomGemma2(config, 3);
const ids = [2, 17, 5, 33, 8, 41, 12]; // longer than the window (3)

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i] - b[i]));
  return max;
}

test('causal: changing token 4 leaves the logits of positions 0..3 bit-identical and changes 4..6', () => {
  const [a] = referenceForward(model, [ids], { logits: 'all' });
  const [b] = referenceForward(model, [ids.map((id, t) => (t === 4 ? 9 : id))], { logits: 'all' });
  for (let t = 0; t < ids.length; t++) {
    const diff = maxAbsDiff(a.logits![t]!, b.logits![t]!);
    if (t < 4) assert.equal(diff, 0, `position ${t}`);
    else assert.ok(diff > 1e-6, `position ${t} should change, diff ${diff}`);
  }
});

test('logits are soft-capped: |logit| < final cap, and not trivially small', () => {
  const [row] = referenceForward(model, [ids], { logits: 'all' });
  let max = 0;
  for (const l of row.logits!) for (const z of l!) max = Math.max(max, Math.abs(z));
  assert.ok(max < config.finalLogitSoftcapping!, `max |logit| ${max}`);
  assert.ok(max > 0.5, `max |logit| ${max} is too small for the cap to matter`);
});

test("'last' mode gives the same last logits as 'all'", () => {
  const [last] = referenceForward(model, [ids]);
  const [all] = referenceForward(model, [ids], { logits: 'all' });
  assert.equal(last.logits, undefined);
  assert.equal(maxAbsDiff(last.lastLogits, all.logits![ids.length - 1]!), 0);
});

test('padding: left- and right-padded rows in one batch match their unpadded runs (tolerance 1e-12)', () => {
  const short = [2, 40, 7, 19];
  const [plainLong] = referenceForward(model, [ids], { logits: 'all' });
  const [plainShort] = referenceForward(model, [short], { logits: 'all' });
  const pad = 0;
  const batch = [ids, [pad, pad, pad, ...short], [...short, pad, 31, pad]];
  const attentionMask = [ids.map(() => 1), [0, 0, 0, 1, 1, 1, 1], [1, 1, 1, 1, 0, 0, 0]];
  const [long, left, right] = referenceForward(model, batch, { logits: 'all', attentionMask });
  for (let t = 0; t < ids.length; t++) assert.ok(maxAbsDiff(long.logits![t]!, plainLong.logits![t]!) <= 1e-12, `long row position ${t}`);
  for (let t = 0; t < short.length; t++) {
    assert.ok(maxAbsDiff(left.logits![t + 3]!, plainShort.logits![t]!) <= 1e-12, `left-padded row position ${t + 3}`);
    assert.ok(maxAbsDiff(right.logits![t]!, plainShort.logits![t]!) <= 1e-12, `right-padded row position ${t}`);
  }
  assert.ok(maxAbsDiff(left.lastLogits, plainShort.lastLogits) <= 1e-12);
  assert.ok(maxAbsDiff(right.lastLogits, plainShort.lastLogits) <= 1e-12);
  assert.deepEqual(left.positionIds, [-1, -1, -1, 0, 1, 2, 3]);
  assert.equal(left.logits![0], null);
});

test('embeddings are scaled by sqrt(hidden_size): with layer 0 attention off, its pre-MLP residual is embed * sqrt(d)', () => {
  const weights = new Map(model.weights);
  weights.set('model.layers.0.self_attn.o_proj.weight', new Float64Array(model.weights.get('model.layers.0.self_attn.o_proj.weight')!.length));
  const noAttention = makeReferenceModel(config, weights);
  const [row] = referenceForward(noAttention, [[5, 6]], { captureLayer: 0 });
  const embed = model.weights.get('model.embed_tokens.weight')!;
  const d = config.hiddenSize;
  const expected = Array.from({ length: d }, (_, i) => embed[6 * d + i] * 4); // sqrt(16) = 4
  assert.ok(maxAbsDiff(row.hookSites![1]!.residual, expected) <= 1e-14);
});

test('head worked by hand: final RMSNorm, logits from the tied embedding, then cap * tanh(z / cap)', () => {
  const hidden = Float64Array.from({ length: config.hiddenSize }, (_, i) => Math.sin(i + 1) * 3);
  const w = model.weights.get('model.norm.weight')!;
  const embed = model.weights.get('model.embed_tokens.weight')!;
  const d = config.hiddenSize;
  const rms = Math.sqrt(hidden.reduce((s, v) => s + v * v, 0) / d + config.rmsNormEps);
  const logits = referenceLogits(model, hidden);
  for (const token of [0, 7, config.vocabSize - 1]) {
    let z = 0;
    for (let i = 0; i < d; i++) z += embed[token * d + i] * (hidden[i] / rms) * (1 + w[i]);
    const expected = 3 * Math.tanh(z / 3); // final_logit_softcapping 3 in this config
    assert.ok(Math.abs(logits[token] - expected) <= 1e-12, `token ${token}: ${logits[token]} vs ${expected}`);
  }
});

test('NLL of a 2-token row is -log softmax(logits after token 0)[token 1], computed here by hand', () => {
  const [row] = referenceForward(model, [[2, 17]], { logits: 'all' });
  const z = row.logits![0]!;
  const logSumExp = Math.log(Array.from(z).reduce((s, v) => s + Math.exp(v), 0));
  assert.ok(Math.abs(referenceNll(model, [2, 17]) - (logSumExp - z[17])) <= 1e-12);
});

test('NLL with a zero embedding is log(vocab) (every logit is 0)', () => {
  const weights = new Map(model.weights);
  weights.set('model.embed_tokens.weight', new Float64Array(config.vocabSize * config.hiddenSize));
  const zero = makeReferenceModel(config, weights);
  assert.ok(Math.abs(referenceNll(zero, ids) - Math.log(config.vocabSize)) <= 1e-12);
});

test('bad input gives an InputError naming the value', () => {
  assert.throws(() => referenceForward(model, [[2, config.vocabSize]]), (e) => e instanceof InputError && /id 50/.test(e.message));
  assert.throws(() => referenceForward(model, [[2, 3, 4]], { attentionMask: [[1, 0, 1]] }), InputError);
  const weights = new Map(model.weights);
  weights.delete('model.norm.weight');
  assert.throws(() => makeReferenceModel(config, weights), (e) => e instanceof InputError && /model\.norm\.weight/.test(e.message));
});
