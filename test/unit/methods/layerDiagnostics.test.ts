/**
 * Layer diagnostics: per-layer cosine of the two sets' means, per-feature variances and the normalised
 * gap on the tiny model against the float64 reference (written out here), on hand-computed vectors, and
 * the suggestion rule.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { InputError } from '../../../src/engine/errors';
import { Gemma2Runner } from '../../../src/engine/gemma2/runner';
import { diagnoseLayer, layerDiagnostics, suggestSteeringLayer, type LayerDiagnostic } from '../../../src/engine/methods/layerDiagnostics';
import { loadTokenizer, type Tokenizer } from '../../../src/engine/tokenizer';
import { referenceForward } from '../../reference/gemma2Reference';
import { tinyModel, type TinyModel } from '../gemma2/gemma2TestKit';

/** float32 activations vs float64: relative to the expected value (variances subtract nearby numbers). */
const RELATIVE_TOLERANCE = 1e-4;

const A = ['I love this, it is wonderful.', 'What a happy, sunny day!', 'Such a delightful gift.'];
const B = ['I hate this, it is awful.', 'What a gloomy, miserable day.', 'Such a dreadful mess.', 'Nothing ever works.'];

let tiny: TinyModel;
let runner: Gemma2Runner;
let tokenizer: Tokenizer;

before(async () => {
  tiny = await tinyModel();
  runner = await Gemma2Runner.open(tiny.folder, { device: 'cpu' });
  tokenizer = await loadTokenizer(tiny.folder.dir);
});
after(() => runner.release());

const referenceStates = new Map<string, Float64Array[]>();

/** The reference's residual stream after `layer` at each example's last token. */
function lastStates(texts: string[], layer: number): Float64Array[] {
  return texts.map((text) => {
    if (!referenceStates.has(text)) {
      const ids = tokenizer.encode(text, { addBos: true });
      const [out] = referenceForward(tiny.reference, [ids], { hiddenStates: true });
      referenceStates.set(text, out.hiddenStates!.map((states) => states[ids.length - 1]!));
    }
    return referenceStates.get(text)![layer + 1];
  });
}

/** Means, variances, cosine and gap written out with plain loops. */
function expectedDiagnostic(a: Float64Array[], b: Float64Array[]) {
  const d = a[0].length;
  const mean = (xs: Float64Array[]) => Array.from({ length: d }, (_, i) => xs.reduce((s, x) => s + x[i], 0) / xs.length);
  const variance = (xs: Float64Array[], m: number[]) => Array.from({ length: d }, (_, i) => xs.reduce((s, x) => s + (x[i] - m[i]) ** 2, 0) / xs.length);
  const ma = mean(a);
  const mb = mean(b);
  const va = variance(a, ma);
  const vb = variance(b, mb);
  let dotAB = 0;
  let aa = 0;
  let bb = 0;
  let gap = 0;
  let spread = 0;
  for (let i = 0; i < d; i++) {
    dotAB += ma[i] * mb[i];
    aa += ma[i] * ma[i];
    bb += mb[i] * mb[i];
    gap += (mb[i] - ma[i]) ** 2;
    spread += (va[i] + vb[i]) / 2;
  }
  const sum = (v: number[]) => v.reduce((s, x) => s + x, 0);
  return {
    meanCosine: dotAB / Math.sqrt(aa * bb),
    varianceA: { mean: sum(va) / d, max: Math.max(...va) },
    varianceB: { mean: sum(vb) / d, max: Math.max(...vb) },
    normalisedGap: gap / spread,
  };
}

function close(actual: number, expected: number, what: string): void {
  assert.ok(Math.abs(actual - expected) <= RELATIVE_TOLERANCE * Math.abs(expected), `${what}: ${actual} vs ${expected}`);
}

test('per-layer cosine of the means, variances and normalised gap match the reference', async () => {
  const result = await layerDiagnostics(runner, tokenizer, A, B);
  assert.deepEqual(
    result.layers.map((d) => d.layer),
    [0, 1, 2, 3],
  );
  assert.equal(result.examplesA, A.length);
  assert.equal(result.examplesB, B.length);
  for (const d of result.layers) {
    const e = expectedDiagnostic(lastStates(A, d.layer), lastStates(B, d.layer));
    close(d.meanCosine, e.meanCosine, `layer ${d.layer} cosine`);
    close(d.varianceA.mean, e.varianceA.mean, `layer ${d.layer} mean variance A`);
    close(d.varianceA.max, e.varianceA.max, `layer ${d.layer} max variance A`);
    close(d.varianceB.mean, e.varianceB.mean, `layer ${d.layer} mean variance B`);
    close(d.varianceB.max, e.varianceB.max, `layer ${d.layer} max variance B`);
    close(d.normalisedGap, e.normalisedGap, `layer ${d.layer} gap`);
  }
  // The middle half of 4 layers is layers 1 and 2.
  const middle = result.layers.filter((d) => d.layer === 1 || d.layer === 2);
  assert.equal(result.suggestedLayer, middle[0].normalisedGap >= middle[1].normalisedGap ? 1 : 2);
});

test('hand-computed vectors: orthogonal means, known variances and gap', () => {
  const d = diagnoseLayer(5, [Float64Array.of(0, 0), Float64Array.of(2, 0)], [Float64Array.of(0, 2), Float64Array.of(0, 4)]);
  // means (1, 0) and (0, 3); variances (1, 0) and (0, 1); gap (1 + 9) / ((1 + 0) / 2 + (0 + 1) / 2) = 10.
  assert.deepEqual(d, { layer: 5, meanCosine: 0, varianceA: { mean: 0.5, max: 1 }, varianceB: { mean: 0.5, max: 1 }, normalisedGap: 10 });
});

test('the suggestion is the largest gap in the middle half of the layers, the lower layer on a tie', () => {
  const at = (layer: number, normalisedGap: number): LayerDiagnostic => ({ layer, normalisedGap, meanCosine: 1, varianceA: { mean: 1, max: 1 }, varianceB: { mean: 1, max: 1 } });
  // 8 layers: the middle half is 2..5; layer 7 has the largest gap but is outside it.
  const gaps = [9, 1, 2, 5, 5, 3, 1, 10];
  assert.equal(suggestSteeringLayer(gaps.map((g, l) => at(l, g)), 8), 3);
  assert.equal(suggestSteeringLayer([at(0, 1), at(7, 2)], 8), 7, 'no diagnosed layer in the middle half: all of them');
});

test('fewer than two examples in a set is an input error', async () => {
  await assert.rejects(layerDiagnostics(runner, tokenizer, A.slice(0, 1), B), (e) => e instanceof InputError && /at least 2 examples per set/.test(e.message));
});
