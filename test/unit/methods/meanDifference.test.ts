/**
 * Mean-difference vectors on the tiny model against the float64 reference (means written out here, not
 * the module's statistics), the stored record, and steering with a vector or an ablated direction during
 * generation against the reference's greedy continuation with the same residual-stream edits.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { InputError } from '../../../src/engine/errors';
import { Gemma2Runner } from '../../../src/engine/gemma2/runner';
import { generate, type GenerationRunner } from '../../../src/engine/generate/generator';
import { ablationSteering } from '../../../src/engine/methods/ablation';
import { defaultVectorLayer, meanDifference, vectorSteering } from '../../../src/engine/methods/meanDifference';
import { parseMeanDifference, type SteeringVectors } from '../../../src/engine/methods/vectorFile';
import { loadTokenizer, type Tokenizer } from '../../../src/engine/tokenizer';
import type { GenerationRow } from '../../../src/protocol';
import { referenceForward, type RowResidualEdits } from '../../reference/gemma2Reference';
import { maxAbsDiff, tinyModel, type TinyModel } from '../gemma2/gemma2TestKit';

/** float32 graph vs float64 reference, relative to the largest entry of the expected vector. */
const RELATIVE_TOLERANCE = 1e-5;

const SOURCE = ['The weather today is calm and mild.', 'A quiet morning by the lake.', 'We walked slowly home.'];
const TARGET = ['The storm tore the roof off!', 'Thunder cracked over the burning city!'];
const PROMPT = 'Once upon a time';

let tiny: TinyModel;
let runner: Gemma2Runner;
let tokenizer: Tokenizer;
let hidden: number;
let layers: number;

before(async () => {
  tiny = await tinyModel();
  runner = await Gemma2Runner.open(tiny.folder, { device: 'cpu' });
  tokenizer = await loadTokenizer(tiny.folder.dir);
  hidden = tiny.folder.config.hiddenSize;
  layers = tiny.folder.config.numHiddenLayers;
});
after(() => runner.release());

/** Per example, per layer: the reference's residual stream after that layer at the last token or averaged over the tokens after BOS. */
function referenceExampleStates(texts: string[], position: 'last' | 'mean'): Float64Array[][] {
  return texts.map((text) => {
    const ids = tokenizer.encode(text, { addBos: true });
    const [out] = referenceForward(tiny.reference, [ids], { hiddenStates: true });
    return Array.from({ length: layers }, (_, layer) => {
      const states = out.hiddenStates![layer + 1];
      const picked = position === 'last' ? [states[ids.length - 1]!] : states.slice(1).map((x) => x!);
      const v = new Float64Array(hidden);
      for (const x of picked) for (let i = 0; i < hidden; i++) v[i] += x[i] / picked.length;
      return v;
    });
  });
}

function referenceMeanDifference(position: 'last' | 'mean'): Float64Array[] {
  const source = referenceExampleStates(SOURCE, position);
  const target = referenceExampleStates(TARGET, position);
  return Array.from({ length: layers }, (_, layer) => {
    const delta = new Float64Array(hidden);
    for (const ex of target) for (let i = 0; i < hidden; i++) delta[i] += ex[layer][i] / target.length;
    for (const ex of source) for (let i = 0; i < hidden; i++) delta[i] -= ex[layer][i] / source.length;
    return delta;
  });
}

function relativeDiff(actual: ArrayLike<number>, expected: Float64Array): number {
  const scale = Math.max(...expected.map(Math.abs));
  let worst = 0;
  for (let i = 0; i < expected.length; i++) worst = Math.max(worst, Math.abs(actual[i] - expected[i]) / scale);
  return worst;
}

for (const position of ['last', 'mean'] as const) {
  test(`delta = mean(target) - mean(source) at the ${position} position matches the reference at every layer`, async () => {
    const result = await meanDifference(runner, tokenizer, SOURCE, TARGET, { position });
    const expected = referenceMeanDifference(position);
    assert.deepEqual([...result.vectors.keys()], [0, 1, 2, 3]);
    expected.forEach((delta, layer) => {
      const diff = relativeDiff(result.vectors.get(layer)!, delta);
      assert.ok(diff <= RELATIVE_TOLERANCE, `layer ${layer}: relative difference ${diff}`);
    });
  });
}

test('the record stores each layer as base64 float32 with the model and the settings', async () => {
  const result = await meanDifference(runner, tokenizer, SOURCE, TARGET, { layers: [3, 1], position: 'mean' });
  const { record } = result;
  assert.equal(record.kind, 'meanDifference');
  assert.deepEqual(record.layers, [1, 3]);
  record.layers.forEach((layer, i) => {
    const bytes = Buffer.from(record.vectors[i], 'base64');
    const decoded = Array.from({ length: bytes.length / 4 }, (_, k) => bytes.readFloatLE(4 * k));
    assert.deepEqual(decoded, Array.from(result.vectors.get(layer)!));
  });
  assert.deepEqual(record.model, { hiddenSize: hidden, numHiddenLayers: layers, fingerprint: tiny.folder.fingerprint });
  assert.deepEqual(record.settings, { position: 'mean', chatTemplate: false, sourceExamples: SOURCE.length, targetExamples: TARGET.length });
  const parsed = parseMeanDifference(JSON.parse(JSON.stringify(record)), 'the record', tiny.folder.config);
  assert.deepEqual([...parsed.vectors.entries()], [...result.vectors.entries()]);
});

/** float32 graph vs float64 reference, as in the forward tests. */
const LOGIT_TOLERANCE = 1e-4;
const TOKENS = 3;

/** Greedy generation of the rows, with the logits each row's tokens were chosen from (prefill, then every decode). */
async function greedy(rows: GenerationRow[], tokens: number): Promise<{ ids: number[][]; logits: Float64Array[][] }> {
  const vocab = tiny.folder.config.vocabSize;
  const logits: Float64Array[][] = rows.map(() => []);
  const keep = (step: { logits: ArrayLike<number> & { subarray(a: number, b: number): ArrayLike<number> } }) =>
    rows.forEach((_, i) => logits[i].push(Float64Array.from(step.logits.subarray(i * vocab, (i + 1) * vocab))));
  const recording: GenerationRunner = {
    folder: runner.folder,
    hookLayer: runner.hookLayer,
    prefill: async (ids, steer, options) => {
      const step = await runner.prefill(ids, steer, options);
      keep(step);
      return step;
    },
    decode: async (cache, ids, steer) => {
      const step = await runner.decode(cache, ids, steer);
      keep(step);
      return step;
    },
  };
  const result = await generate(recording, tokenizer, { prompt: PROMPT, rows, sampling: { temperature: 0, maxNewTokens: tokens } });
  return { ids: result.rows.map((r) => r.ids), logits };
}

/** Each step's logits against the reference's last logits of the prompt and the tokens so far, with the edits at every position. */
function assertStepsMatchReference(ids: number[], logits: Float64Array[], edits: RowResidualEdits | undefined, what: string): void {
  const promptIds = tokenizer.encode(PROMPT, { addBos: true });
  ids.forEach((_, t) => {
    const [expected] = referenceForward(tiny.reference, [[...promptIds, ...ids.slice(0, t)]], { edits: [edits] });
    const diff = maxAbsDiff(logits[t], expected.lastLogits);
    assert.ok(diff <= LOGIT_TOLERANCE, `${what}, step ${t}: max abs logit difference ${diff}`);
  });
}

let vectors: SteeringVectors;

test('steering vectors at several coefficients in one batch give the reference logits with the vectors added, prefill and decode', async () => {
  vectors ??= await meanDifference(runner, tokenizer, SOURCE, TARGET);
  const steerLayers = [1, 2];
  const coefficients = [0, 0.5, -1];
  const { ids, logits } = await greedy(coefficients.map((c) => ({ alpha: 0, vector: vectorSteering(vectors, c, steerLayers) })), TOKENS);
  coefficients.forEach((c, row) => {
    const add = new Map(steerLayers.map((l) => [l, Float64Array.from(vectors.vectors.get(l)!, (x) => c * x)]));
    assertStepsMatchReference(ids[row], logits[row], c === 0 ? undefined : { add }, `coefficient ${c}`);
  });
  // The vector must matter, or this test would not notice vectors that do nothing.
  assert.ok(maxAbsDiff(logits[1][TOKENS - 1], logits[0][TOKENS - 1]) > 0.01);
});

test('an ablated direction is removed after every layer during generation, as in the reference', async () => {
  vectors ??= await meanDifference(runner, tokenizer, SOURCE, TARGET);
  const v = vectors.vectors.get(2)!;
  const length = Math.hypot(...v);
  const r = Float64Array.from(v, (x) => x / length);
  const { ids, logits } = await greedy([{ alpha: 0 }, { alpha: 0, ablate: ablationSteering(vectors, 'all', 2) }], TOKENS);
  assertStepsMatchReference(ids[1], logits[1], { ablate: new Map(Array.from({ length: layers }, (_, l) => [l, r])) }, 'ablated');
  assert.ok(maxAbsDiff(logits[1][TOKENS - 1], logits[0][TOKENS - 1]) > 0.01);
});

test('the default steering layer is the only layer, or the middle one of the stored layers', async () => {
  vectors ??= await meanDifference(runner, tokenizer, SOURCE, TARGET);
  assert.equal(defaultVectorLayer(vectors), 2);
  const one = { record: vectors.record, vectors: new Map([[3, vectors.vectors.get(3)!]]) };
  assert.equal(defaultVectorLayer(one), 3);
  assert.deepEqual(vectorSteering(vectors, 1.5).layers, [2]);
});

test('vectors from another model, of the wrong width or at missing layers are input errors', async () => {
  vectors ??= await meanDifference(runner, tokenizer, SOURCE, TARGET);
  const other = { ...vectorSteering(vectors, 1, [1]), model: { hiddenSize: hidden, numHiddenLayers: layers, fingerprint: 'another' } };
  await assert.rejects(greedy([{ alpha: 0, vector: other }], 1), (e) => e instanceof InputError && /row 0 vector: made on another model/.test(e.message));
  const narrow = { layers: [1], values: [[1, 2, 3]], coefficient: 1 };
  await assert.rejects(greedy([{ alpha: 0, vector: narrow }], 1), (e) => e instanceof InputError && /3 values, expected the model's hidden size 64/.test(e.message));
  assert.throws(() => vectorSteering(vectors, 1, [7]), /no vector for layer 7/);
  await assert.rejects(meanDifference(runner, tokenizer, [], TARGET), InputError);
});
