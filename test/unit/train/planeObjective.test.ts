/**
 * The whole training gradient: at fixed (n_raw, theta), the gradient the trainer steps on (the train
 * graph's plane gradient, the latent terms and the chain rule together) equals central finite
 * differences of the total loss computed by the independent float64 reference, in (n_raw, theta).
 * A float64 runner keeps the graph's own rounding far below the tolerance.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Gemma2Runner } from '../../../src/engine/gemma2/runner';
import { SeededRandom } from '../../../src/engine/random';
import { hookLatents } from '../../../src/engine/train/latentLosses';
import { sequenceRows } from '../../../src/engine/train/mleRows';
import { PlaneParameters } from '../../../src/engine/train/planeParameters';
import { evaluateObjective, type LossWeights } from '../../../src/engine/train/planeObjective';
import { cacheExamples } from '../../../src/engine/train/trainingExamples';
import { referenceSteeringLoss } from '../../reference/gemma2Reference';
import { tinyModel, type TinyModel } from '../gemma2/gemma2TestKit';

/** Layer 2 of 4: the default, with one sliding and one global layer above it. */
const LAYER = 2;
/** Every term matters at this scale (the default lambda_mle = 1e4 would drown the latent terms). */
const WEIGHTS: LossWeights = { alpha: 1.5, useAveraging: true, lambdaMle: 1, lambdaCap: 0.5, lambdaTheta: 0.3 };
/** Two short rows (BOS = 2) of different lengths: each reference loss runs the 262k-word head per token in plain JS. */
const EXAMPLES = [
  [2, 651, 4941, 3370, 235265],
  [2, 1969, 5929, 6607],
];

let tiny: TinyModel;
let runner: Gemma2Runner;

before(async () => {
  tiny = await tinyModel();
  runner = await Gemma2Runner.open(tiny.folder, { device: 'cpu', computeDtype: 'float64', hookLayer: LAYER });
});
after(() => runner.release());

/** The total loss by the reference at parameters [n_raw..., theta]; n and b derived here from the method's text. */
function referenceLoss(values: Float64Array): number {
  const hidden = values.length - 1;
  const nRaw = values.subarray(0, hidden);
  const norm = Math.hypot(...nRaw);
  const plane = { n: Float64Array.from(nRaw, (x) => x / norm), b: Math.tanh(values[hidden]), layer: LAYER };
  return referenceSteeringLoss(tiny.reference, EXAMPLES, plane, WEIGHTS).loss;
}

test('float64: the trainer gradient in (n_raw, theta) matches central differences of the reference loss', async () => {
  const hidden = tiny.folder.config.hiddenSize;
  const random = new SeededRandom(5);
  // |n_raw| = 1.7 and theta = 0.4, so that the chain rule's 1/|n_raw| and 1 - tanh^2 both matter.
  const start = PlaneParameters.init(hidden, random);
  start.renormalise();
  const params = PlaneParameters.of(
    start.nRaw.map((x) => 1.7 * x),
    0.4,
  );
  const cached = await cacheExamples(runner, EXAMPLES);
  const latents = hookLatents(
    cached.map((e) => e.y),
    await runner.hookScale(),
  );
  const value = await evaluateObjective(runner, sequenceRows(cached, cached.length, random), latents, params, WEIGHTS);

  const expected = referenceLoss(params.values);
  // Not 1e-12: onnxruntime folds the soft-caps' divisions into float32 attributes (see gemma2/train.test.ts).
  assert.ok(Math.abs(value.loss - expected) <= 1e-6 * Math.abs(expected), `loss ${value.loss} vs reference ${expected}`);
  assert.ok(value.capLoss < 0 && value.thetaLoss > 0 && value.mleLoss > 0);

  // Directions: theta alone, one n_raw coordinate, and two random ones through every parameter.
  const size = hidden + 1;
  const directions = [
    Float64Array.from({ length: size }, (_, i) => (i === hidden ? 1 : 0)),
    Float64Array.from({ length: size }, (_, i) => (i === 7 ? 1 : 0)),
    Float64Array.from({ length: size }, () => random.normal()),
    Float64Array.from({ length: size }, () => random.normal()),
  ];
  const h = 1e-5;
  // The loss is ~12: float64 rounding ~1e-14 over 2h gives ~1e-9; truncation ~h^2 ~ 1e-10; the graph's float32
  // soft-cap constants change the function by ~1e-7 relative, hence 1e-6 + 1e-5 relative.
  const tolerance = (g: number) => 1e-6 + 1e-5 * Math.abs(g);
  for (const [d, u] of directions.entries()) {
    const plus = params.values.map((x, i) => x + h * u[i]);
    const minus = params.values.map((x, i) => x - h * u[i]);
    const fd = (referenceLoss(plus) - referenceLoss(minus)) / (2 * h);
    const analytic = u.reduce((s, ui, i) => s + ui * value.grad[i], 0);
    assert.ok(Math.abs(fd - analytic) <= tolerance(analytic), `direction ${d}: gradient ${analytic} vs finite difference ${fd}`);
    assert.ok(Math.abs(analytic) > 1e-4, `direction ${d} should move the loss`);
  }
});
