/**
 * A training step (the forward graph run on training rows from the hook layer up, then the backward
 * graph split off it): its loss is the forward NLL with the plane at every position, and its dLoss/dn
 * and dLoss/db (reverse-mode, through the layers above the hook layer) match central finite
 * differences of that loss in the float64 variant, and the float32 graphs within a stated tolerance.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Gemma2Runner, type PlaneValues, type TrainRow } from '../../../src/engine/gemma2/runner';
import { referenceNll } from '../../reference/gemma2Reference';
import { seededNormals } from '../../reference/randomGemma2';
import { maxAbsDiff, seededIds, seededPlane, tinyModel, type TinyModel } from './gemma2TestKit';

const ALPHA = 1.5;
/** Hook layer 1: layers 2 (sliding) and 3 (global) lie above it. */
const HOOK_LAYER = 1;

let tiny: TinyModel;
let runner32: Gemma2Runner;
let runner64: Gemma2Runner;
let plane: PlaneValues;
/** Two rows of different lengths (left-padded into one batch), the longer past the sliding window. */
const examples = [seededIds(12, 21), seededIds(7, 22)];

before(async () => {
  tiny = await tinyModel();
  runner32 = await Gemma2Runner.open(tiny.folder, { device: 'cpu', hookLayer: HOOK_LAYER });
  runner64 = await Gemma2Runner.open(tiny.folder, { device: 'cpu', hookLayer: HOOK_LAYER, computeDtype: 'float64' });
  plane = seededPlane(tiny.folder.config.hiddenSize, 23);
});
after(async () => {
  await runner32.release();
  await runner64.release();
});

async function trainRows(runner: Gemma2Runner, steered?: (len: number) => boolean[]): Promise<TrainRow[]> {
  const sites = await runner.hookActivations(examples);
  return examples.map((ids, i) => ({ ids, ...sites[i], steered: steered?.(ids.length) }));
}

/** The pooled mean NLL over every next-token prediction of every example, from the float64 reference. */
function referencePooledNll(): number {
  let sum = 0;
  let count = 0;
  for (const ids of examples) {
    const steer = { ...plane, n: Float64Array.from(plane.n), alpha: ALPHA, layer: HOOK_LAYER, positions: ids.map(() => true) };
    sum += referenceNll(tiny.reference, ids, steer) * (ids.length - 1);
    count += ids.length - 1;
  }
  return sum / count;
}

test('the loss equals the steered forward NLL (graph and reference), in float64 and float32', async () => {
  const expected = referencePooledNll();
  const loss64 = (await runner64.trainStep(await trainRows(runner64), plane, ALPHA)).loss;
  // Not 1e-12: onnxruntime folds the soft-caps' scalar divisions into FusedMatMul, whose alpha is a float32 attribute.
  assert.ok(Math.abs(loss64 - expected) <= 1e-6, `float64 train loss ${loss64} vs reference ${expected}`);
  const loss32 = (await runner32.trainStep(await trainRows(runner32), plane, ALPHA)).loss;
  assert.ok(Math.abs(loss32 - expected) <= 1e-5, `float32 train loss ${loss32} vs reference ${expected}`);

  const perRow = await runner32.forwardNll(examples, examples.map(() => ({ ...plane, alpha: ALPHA, positions: 'all' as const })));
  const pooled = perRow.reduce((s, r, i) => s + r.nll * (examples[i].length - 1), 0) / examples.reduce((s, ids) => s + ids.length - 1, 0);
  assert.ok(Math.abs(loss32 - pooled) <= 1e-5, `float32 train loss ${loss32} vs forward NLL ${pooled}`);
});

test('float64: dLoss/dn and dLoss/db match central finite differences of the loss', async () => {
  // One row, past the window: each loss evaluation runs the 262k-word head in float64.
  const [row] = await trainRows(runner64);
  const rows = [row];
  const { gradN, gradB } = await runner64.trainStep(rows, plane, ALPHA);
  const lossAt = async (n: Float64Array, b: number) => (await runner64.trainStep(rows, { n, b }, ALPHA)).loss;
  const h = 1e-5;
  // Tolerance: float64 rounding of a loss near 12 is ~1e-13, over 2h that is ~1e-8; the h^2 term is smaller.
  const tolerance = (g: number) => 1e-7 + 1e-6 * Math.abs(g);

  const fdB = ((await lossAt(Float64Array.from(plane.n), plane.b + h)) - (await lossAt(Float64Array.from(plane.n), plane.b - h))) / (2 * h);
  assert.ok(Math.abs(fdB - gradB) <= tolerance(gradB), `dLoss/db ${gradB} vs finite difference ${fdB}`);
  assert.ok(Math.abs(gradB) > 1e-4, 'b should matter');

  // Random directions catch a wrong component anywhere in n; a single coordinate checks the layout.
  const normal = seededNormals(24);
  const hidden = plane.n.length;
  const directions = Array.from({ length: 3 }, () => Float64Array.from({ length: hidden }, normal));
  directions.push(Float64Array.from({ length: hidden }, (_, i) => (i === hidden - 1 ? 1 : 0)));
  for (const u of directions) {
    const plus = Float64Array.from(plane.n, (x, i) => x + h * u[i]);
    const minus = Float64Array.from(plane.n, (x, i) => x - h * u[i]);
    const fd = ((await lossAt(plus, plane.b)) - (await lossAt(minus, plane.b))) / (2 * h);
    const analytic = u.reduce((s, ui, i) => s + ui * gradN[i], 0);
    assert.ok(Math.abs(fd - analytic) <= tolerance(analytic), `directional derivative ${analytic} vs finite difference ${fd}`);
  }
});

test('float32 gradients agree with the float64 graph within 1e-4 of their scale', async () => {
  const g64 = await runner64.trainStep(await trainRows(runner64), plane, ALPHA);
  const g32 = await runner32.trainStep(await trainRows(runner32), plane, ALPHA);
  const scale = Math.max(...Array.from(g64.gradN, Math.abs), Math.abs(g64.gradB));
  assert.ok(maxAbsDiff(g32.gradN, g64.gradN) <= 1e-4 * scale, `grad_n differs by ${maxAbsDiff(g32.gradN, g64.gradN)} (scale ${scale})`);
  assert.ok(Math.abs(g32.gradB - g64.gradB) <= 1e-4 * scale);
});

test('steering only the last position of a sequence leaves its NLL unchanged: zero gradient', async () => {
  const rows = await trainRows(runner64, (len) => Array.from({ length: len }, (_, t) => t === len - 1));
  const { gradN, gradB } = await runner64.trainStep(rows, plane, ALPHA);
  assert.equal(Math.max(...Array.from(gradN, Math.abs), Math.abs(gradB)), 0);
  // Steering the last position of a prefix and scoring its next token (the notebook scheme) does move the loss.
  const cut = rows.map((r) => ({ ...r, labels: Array.from(r.ids, (_, t) => t === r.ids.length - 2), steered: Array.from(r.ids, (_, t) => t === r.ids.length - 2) }));
  const notebook = await runner64.trainStep(cut, plane, ALPHA);
  assert.ok(Math.abs(notebook.gradB) > 1e-6);
});

test('the loss alone (the benchmark baseline) is the training step\'s loss', async () => {
  const rows = await trainRows(runner32);
  const step = await runner32.trainStep(rows, plane, ALPHA);
  const loss = await runner32.trainLoss(rows, plane, ALPHA);
  // The same forward session runs both.
  assert.equal(loss, step.loss);
});
