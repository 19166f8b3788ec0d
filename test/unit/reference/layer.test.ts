// Layer-level structure of the reference: sliding window vs global attention, and the GQA head mapping.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { makeReferenceModel, referenceDecoderLayer, type ReferenceModel } from '../../reference/gemma2Reference';
import { randomGemma2, seededNormals, smallGemma2Config } from '../../reference/randomGemma2';

const config = smallGemma2Config(); // window 3; layers 0, 2 sliding, 1, 3 global; 4 query heads on 2 kv heads
const model = randomGemma2(config, 11);

function randomRow(length: number, seed: number): Float64Array[] {
  const normal = seededNormals(seed);
  return Array.from({ length }, () => Float64Array.from({ length: config.hiddenSize }, normal));
}

function changedPositions(a: (Float64Array | null)[], b: (Float64Array | null)[]): number[] {
  const changed: number[] = [];
  a.forEach((x, t) => {
    if (x!.some((v, i) => v !== b[t]![i])) changed.push(t);
  });
  return changed;
}

/** Outputs of one layer before and after replacing the input at position 0. */
function effectOfFirstToken(layer: number): number[] {
  const row = randomRow(7, 5);
  const perturbed = row.slice();
  perturbed[0] = randomRow(1, 99)[0];
  const positions = row.map((_, t) => t);
  return changedPositions(
    referenceDecoderLayer(model, layer, row, positions).hidden,
    referenceDecoderLayer(model, layer, perturbed, positions).hidden,
  );
}

test('sliding layer: a query at q sees key 0 only while q - window < 0 (window 3: q = 0, 1, 2)', () => {
  assert.equal(config.slidingLayers[0], true);
  // Exact equality elsewhere: key 0 must contribute nothing at all beyond the window.
  assert.deepEqual(effectOfFirstToken(0), [0, 1, 2]);
});

test('global layer: the first token affects every later position', () => {
  assert.equal(config.slidingLayers[1], false);
  assert.deepEqual(effectOfFirstToken(1), [0, 1, 2, 3, 4, 5, 6]);
});

test('causal: changing the last input changes only the last output', () => {
  const row = randomRow(5, 6);
  const perturbed = row.slice();
  perturbed[4] = randomRow(1, 7)[0];
  const positions = row.map((_, t) => t);
  for (const layer of [0, 1]) {
    assert.deepEqual(
      changedPositions(referenceDecoderLayer(model, layer, row, positions).hidden, referenceDecoderLayer(model, layer, perturbed, positions).hidden),
      [4],
    );
  }
});

function withWeight(base: ReferenceModel, name: string, edit: (w: Float64Array) => void): ReferenceModel {
  const weights = new Map(base.weights);
  const w = Float64Array.from(base.weights.get(name)!);
  edit(w);
  weights.set(name, w);
  return makeReferenceModel(base.config, weights);
}

test('GQA: query heads 0, 1 read kv head 0 and heads 2, 3 read kv head 1 (repeat-interleave grouping)', () => {
  const hd = config.headDim;
  const d = config.hiddenSize;
  const expectedKvHead = [0, 0, 1, 1]; // heads / kvHeads = 2 consecutive query heads per kv head
  const oName = 'model.layers.1.self_attn.o_proj.weight';
  const vName = 'model.layers.1.self_attn.v_proj.weight';
  const row = randomRow(4, 8);
  const positions = row.map((_, t) => t);
  for (let h = 0; h < config.numAttentionHeads; h++) {
    // Keep only query head h's columns of o_proj ([d, heads * hd]), so the layer output shows that head alone.
    const onlyHead = withWeight(model, oName, (w) => {
      const cols = config.numAttentionHeads * hd;
      for (let r = 0; r < d; r++) {
        for (let col = 0; col < cols; col++) if (Math.floor(col / hd) !== h) w[r * cols + col] = 0;
      }
    });
    const base = referenceDecoderLayer(onlyHead, 1, row, positions).hidden;
    for (let g = 0; g < config.numKeyValueHeads; g++) {
      // Scale kv head g's value rows ([kvHeads * hd, d]).
      const changedV = withWeight(onlyHead, vName, (w) => {
        for (let i = g * hd * d; i < (g + 1) * hd * d; i++) w[i] *= 3;
      });
      const changed = changedPositions(base, referenceDecoderLayer(changedV, 1, row, positions).hidden).length > 0;
      assert.equal(changed, g === expectedKvHead[h], `query head ${h}, kv head ${g}`);
    }
  }
});

test('one attention layer worked by hand: 1 head, head_dim 2, identity projections, MLP off', () => {
  // hidden 2 = head_dim 2, so RoPE turns the pair (0, 1) by the position itself (theta^0 = 1).
  const tinyConfig = smallGemma2Config({
    vocabSize: 3, hiddenSize: 2, intermediateSize: 2, numHiddenLayers: 1, numAttentionHeads: 1, numKeyValueHeads: 1,
    headDim: 2, queryPreAttnScalar: 4, attnLogitSoftcapping: 0.5, rmsNormEps: 1e-30, // eps ~ 0, but norm(0) stays 0
  });
  const identity = Float64Array.from([1, 0, 0, 1]);
  const weights = new Map(randomGemma2(tinyConfig, 1).weights);
  for (const name of ['q_proj', 'k_proj', 'v_proj', 'o_proj']) weights.set(`model.layers.0.self_attn.${name}.weight`, identity);
  for (const name of ['input_layernorm', 'post_attention_layernorm']) weights.set(`model.layers.0.${name}.weight`, new Float64Array(2));
  weights.set('model.layers.0.mlp.down_proj.weight', new Float64Array(4));
  const handModel = makeReferenceModel(tinyConfig, weights);

  const x0 = Float64Array.from([3, 4]);
  const x1 = Float64Array.from([-1, 2]);
  const [out0, out1] = referenceDecoderLayer(handModel, 0, [x0, x1], [0, 1]).hidden;

  // RMSNorm with gain 1 (eps negligible): x / sqrt(mean(x^2)).
  const unitRms = (x: number[]) => x.map((v) => v / Math.sqrt((x[0] ** 2 + x[1] ** 2) / 2));
  const n0 = unitRms([3, 4]);
  const n1 = unitRms([-1, 2]);
  // Position 0 sees only itself: the attention output is v0 = n0, and its RMSNorm is n0 again.
  assert.ok(maxAbs([out0![0] - (3 + n0[0]), out0![1] - (4 + n0[1])]) <= 1e-12, 'position 0');
  // Position 1: q1 = k1 = n1 turned by 1 radian, k0 = n0; score = 0.5 * tanh((q.k / sqrt(4)) / 0.5).
  const q1 = [n1[0] * Math.cos(1) - n1[1] * Math.sin(1), n1[1] * Math.cos(1) + n1[0] * Math.sin(1)];
  const s0 = 0.5 * Math.tanh((q1[0] * n0[0] + q1[1] * n0[1]) / 2 / 0.5);
  const s1 = 0.5 * Math.tanh((q1[0] * q1[0] + q1[1] * q1[1]) / 2 / 0.5);
  const p0 = Math.exp(s0) / (Math.exp(s0) + Math.exp(s1));
  const attended = unitRms([p0 * n0[0] + (1 - p0) * n1[0], p0 * n0[1] + (1 - p0) * n1[1]]);
  assert.ok(maxAbs([out1![0] - (-1 + attended[0]), out1![1] - (2 + attended[1])]) <= 1e-12, 'position 1');
});

test('MLP branch worked by hand: attention off, hidden 2, intermediate 2', () => {
  const tinyConfig = smallGemma2Config({
    vocabSize: 3, hiddenSize: 2, intermediateSize: 2, numHiddenLayers: 1, numAttentionHeads: 1, numKeyValueHeads: 1,
    headDim: 2, rmsNormEps: 1e-30, // eps ~ 0, but norm(0) stays 0
  });
  const weights = new Map(randomGemma2(tinyConfig, 2).weights);
  weights.set('model.layers.0.self_attn.o_proj.weight', new Float64Array(4));
  const set = (name: string, values: number[]) => weights.set(`model.layers.0.${name}.weight`, Float64Array.from(values));
  set('pre_feedforward_layernorm', [0.5, -0.25]);
  set('post_feedforward_layernorm', [1, 0]);
  set('mlp.gate_proj', [0.7, -0.2, -0.4, 0.5]);
  set('mlp.up_proj', [0.3, 0.9, 0.8, -0.6]);
  set('mlp.down_proj', [2, -1, 0.5, 1.5]);
  const handModel = makeReferenceModel(tinyConfig, weights);

  const x = [1, 3];
  const { hidden, sites } = referenceDecoderLayer(handModel, 0, [Float64Array.from(x)], [0]);
  const rms = Math.sqrt((1 + 9) / 2);
  const xn = [(x[0] / rms) * 1.5, (x[1] / rms) * 0.75];
  const gelu = (z: number) => 0.5 * z * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (z + 0.044715 * z ** 3)));
  const act = [gelu(0.7 * xn[0] - 0.2 * xn[1]) * (0.3 * xn[0] + 0.9 * xn[1]), gelu(-0.4 * xn[0] + 0.5 * xn[1]) * (0.8 * xn[0] - 0.6 * xn[1])];
  const down = [2 * act[0] - 1 * act[1], 0.5 * act[0] + 1.5 * act[1]];
  const downRms = Math.sqrt((down[0] ** 2 + down[1] ** 2) / 2);
  const y = [(down[0] / downRms) * 2, (down[1] / downRms) * 1];
  assert.ok(maxAbs([sites[0]!.residual[0] - x[0], sites[0]!.residual[1] - x[1]]) <= 1e-12, 'residual before the MLP add');
  assert.ok(maxAbs([sites[0]!.y[0] - y[0], sites[0]!.y[1] - y[1]]) <= 1e-12, 'post_feedforward_layernorm output');
  assert.ok(maxAbs([hidden[0]![0] - (x[0] + y[0]), hidden[0]![1] - (x[1] + y[1])]) <= 1e-12, 'layer output');
});

function maxAbs(values: number[]): number {
  return Math.max(...values.map(Math.abs));
}
