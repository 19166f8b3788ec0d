/**
 * A large quantized matrix multiplied in row slices (graphWeights.ts, quantizedOps.matmulNBitsInSlices)
 * computes what the whole product computes: the tiny model's logits with its embedding (the head) cut
 * into uneven slices against the graph that packs it whole, and the product's gradient against the
 * whole product's and against float64 dequantize(W) arithmetic. The training graph's reverse sweep
 * never reads a row slice; it reads W^T whole, or in column slices where W^T is wide (the head's: the
 * vocabulary), whose products add up to the whole W^T's gradient.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildForwardGraph } from '../../../src/engine/gemma2/forwardGraph';
import { openModelFolder } from '../../../src/engine/model/modelFolder';
import { gradients } from '../../../src/engine/onnx/autodiff';
import { GraphBuilder, type GraphParts, type Tensor } from '../../../src/engine/onnx/graph';
import { mul, reduceSum } from '../../../src/engine/onnx/ops';
import { serializeModel } from '../../../src/engine/onnx/serialize';
import { createSession, f32, runSession } from '../../../src/engine/runtime/session';
import { dequantize, quantizeRows, type QuantBits } from '../../../src/engine/weights/blockQuantize';
import { quantizedWeights } from '../../../src/engine/weights/graphWeights';
import { COLUMN_SLICE, columnSlices, quantizedFileLayout, quantizedWeightsFile } from '../../../src/engine/weights/quantizedFile';
import { matmulNBits, matmulNBitsInSlices } from '../../../src/engine/weights/quantizedOps';
import { ensureTinyModel } from '../../fixtures/tinyModel';
import { testTempDir } from '../../fixtures/tempDir';
import { seededNormals } from '../../reference/randomGemma2';
import { runForwardOnce } from './graphRun';
import { constantMatrix, productError } from './quantizedKit';

const cacheDir = testTempDir('sliced-product');
/** Under the tiny model's embedding (17.8 MB at int8, 9.4 MB at int4): 9 and 5 slices, the last one shorter. */
const SLICE_BYTES = 2 * 1024 * 1024;

const weightNames = (parts: GraphParts) => parts.initializers.filter((i) => i.kind === 'external').map((i) => i.tensor.name);
const productCount = (parts: GraphParts) => parts.nodes.filter((n) => n.opType === 'MatMulNBits').length;

for (const bits of [8, 4] as QuantBits[]) {
  test(`int${bits}: the head in row slices gives the logits of the head packed whole, and training reads W^T, never a row slice`, async () => {
    const folder = await openModelFolder(await ensureTinyModel());
    const file = await quantizedWeightsFile(folder, bits, 'weights', { cacheDir });
    const transposed = quantizedFileLayout(folder, bits, 'transposed', file.dir);
    const ids = [2, 651, 6037, 576, 235248, 17];
    const whole = await runForwardOnce(folder, ids, (g) => quantizedWeights(g, file, transposed));
    const sliced = await runForwardOnce(folder, ids, (g) => quantizedWeights(g, file, transposed, SLICE_BYTES));

    const slices = weightNames(sliced.graph).filter((n) => /^model\.embed_tokens\.weight\.rows\d+\.q$/.test(n));
    console.log(`int${bits}: ${slices.length} slices; MatMulNBits nodes ${productCount(whole.graph)} whole, ${productCount(sliced.graph)} sliced`);
    assert.ok(slices.length >= 4, `expected the embedding in several slices, got ${slices.join(', ')}`);
    // The forward graph has two heads (the last position's logits and the scored positions' NLL).
    assert.equal(productCount(sliced.graph), productCount(whole.graph) + 2 * (slices.length - 1));
    assert.ok(!weightNames(sliced.graph).includes('model.embed_tokens.weight.q'), 'the sliced graph still declares the whole matrix');

    assert.equal(sliced.logits.length, whole.logits.length);
    let worst = 0;
    let scale = 0;
    whole.logits.forEach((v, i) => {
      worst = Math.max(worst, Math.abs(v - sliced.logits[i]));
      scale = Math.max(scale, Math.abs(v));
    });
    console.log(`int${bits}: sliced logits differ by at most ${worst.toExponential(2)} (logits up to ${scale.toFixed(2)})`);
    assert.ok(worst <= 1e-5 * scale, `sliced logits differ by ${worst}`);

    const split = buildForwardGraph(folder, { hookLayer: 1, weights: (g) => quantizedWeights(g, file, transposed, SLICE_BYTES) });
    const backward = weightNames(split.backward);
    assert.ok(backward.some((n) => /^model\.embed_tokens\.weight\.cols\d+\.q\.T$/.test(n)), `the reverse sweep does not read W^T: ${backward.join(', ')}`);
    assert.ok(backward.every((n) => !n.includes('.rows')), `the reverse sweep reads a slice: ${backward.filter((n) => n.includes('.rows')).join(', ')}`);
  });
}

/** The gradient tests' shapes: W [rows, cols], x [batch, cols], r [batch, rows]. */
const [ROWS, COLS, BATCH] = [96, 64, 3];

/**
 * A seeded W, its transpose and W^T's int8 quantization, and a graph with inputs x and r whose loss
 * sum((x @ W^T) * r) the tests differentiate; `run` feeds seeded x and r and returns the outputs and r.
 */
function gradientCase(seed: number) {
  const normal = seededNormals(seed);
  const w = Float32Array.from({ length: ROWS * COLS }, normal);
  const wt = Float32Array.from({ length: COLS * ROWS }, (_, i) => w[(i % ROWS) * COLS + Math.floor(i / ROWS)]);
  const qt = quantizeRows(wt, COLS, ROWS, 8);
  const g = new GraphBuilder();
  const x = g.input('x', 'float32', [BATCH, COLS]);
  const r = g.input('r', 'float32', [BATCH, ROWS]);
  const gradient = (y: Tensor) => gradients(g, reduceSum(mul(y, r), [0, 1], false), [x])[0];
  const run = async (tempName: string) => {
    const { session } = await createSession({ bytes: serializeModel(g, { externalDataDir: testTempDir(tempName) }) }, { device: 'cpu' });
    const xs = Float32Array.from({ length: BATCH * COLS }, normal);
    const rs = Float32Array.from({ length: BATCH * ROWS }, normal);
    const out = await runSession(session, { x: f32(xs, [BATCH, COLS]), r: f32(rs, [BATCH, ROWS]) });
    await session.release();
    return { out, rs };
  };
  return { w, wt, qt, g, x, gradient, run };
}

test('the gradient of a product in row slices is the whole product\'s: dY @ W through W^T\'s quantization', async () => {
  const { w, qt, g, x, gradient, run } = gradientCase(7);
  const transposed = () => [{ first: 0, matrix: constantMatrix(g, qt, () => assert.fail('second order')) }];
  const slices = [40, 40, 16].map((count, i) => {
    const first = i * 40;
    return constantMatrix(g, quantizeRows(w.subarray(first * COLS, (first + count) * COLS), count, COLS, 8), () => assert.fail('a slice alone'));
  });
  const whole = constantMatrix(g, quantizeRows(w, ROWS, COLS, 8), transposed);
  g.output('g_sliced', gradient(matmulNBitsInSlices(x, slices, transposed)));
  g.output('g_whole', gradient(matmulNBits(x, whole)));
  const { out, rs } = await run('sliced-gradient');
  assert.deepEqual(Array.from(out.g_sliced.data as Float32Array), Array.from(out.g_whole.data as Float32Array));
  // Against float64 arithmetic: dL/dx = r @ dequantize(W^T)^T, within accuracy_level 4's rounding of r.
  const d = dequantize(qt);
  const { worst, scale } = productError(rs, d, BATCH, COLS, ROWS, out.g_sliced.data as Float32Array);
  console.log(`sliced product's gradient: max error ${worst.toExponential(2)} against float64 for values up to ${scale.toFixed(2)}`);
  assert.ok(worst <= 0.02 * scale, `gradient differs by ${worst}`);
});

test('W^T in column slices gives the gradient of W^T whole, and of float64 arithmetic', async () => {
  const { w, wt, qt, g, x, gradient, run } = gradientCase(8);
  // Slices of 32 columns: the whole W^T's blocks (32 values each here), so only the order of the sums differs.
  const columns = [0, 32, 64].map((first) => {
    const part = Float32Array.from({ length: COLS * 32 }, (_, i) => wt[Math.floor(i / 32) * ROWS + first + (i % 32)]);
    return { first, matrix: constantMatrix(g, quantizeRows(part, COLS, 32, 8), () => assert.fail('second order')) };
  });
  const q = quantizeRows(w, ROWS, COLS, 8);
  const bySlices = constantMatrix(g, q, () => columns);
  const byWhole = constantMatrix(g, q, () => [{ first: 0, matrix: constantMatrix(g, qt, () => assert.fail('second order')) }]);
  g.output('g_slices', gradient(matmulNBits(x, bySlices)));
  g.output('g_whole', gradient(matmulNBits(x, byWhole)));
  const products = g.nodes.filter((n) => n.opType === 'MatMulNBits').length;
  assert.equal(products, 2 + columns.length + 1, 'two forward products, one per column slice and one whole W^T');
  const { out, rs } = await run('column-gradient');
  const slices = out.g_slices.data as Float32Array;
  const whole = out.g_whole.data as Float32Array;
  const { worst: apart, scale } = productError(rs, dequantize(qt), BATCH, COLS, ROWS, slices);
  let gap = 0;
  slices.forEach((v, i) => (gap = Math.max(gap, Math.abs(v - whole[i]))));
  console.log(`column slices' gradient: ${gap.toExponential(2)} from W^T whole, ${apart.toExponential(2)} from float64, values up to ${scale.toFixed(2)}`);
  assert.ok(gap <= 1e-5 * scale, `column slices and W^T whole differ by ${gap}`);
  assert.ok(apart <= 0.02 * scale, `gradient differs from float64 by ${apart}`);
});

test("the gradient file keeps a matrix wider than 2 x COLUMN_SLICE in slices that tile its columns; W itself stays whole", () => {
  for (const cols of [2 * COLUMN_SLICE + 1, 256000, 262144]) {
    const slices = columnSlices(cols, 'transposed');
    assert.ok(slices, `${cols} columns are sliced`);
    let next = 0;
    for (const s of slices) {
      assert.equal(s.first, next, `${cols} columns: slices are contiguous`);
      assert.ok(s.cols > 0 && s.cols <= COLUMN_SLICE, `${cols} columns: a slice of ${s.cols}`);
      next += s.cols;
    }
    assert.equal(next, cols, `${cols} columns: the slices cover them all`);
    assert.equal(columnSlices(cols, 'weights'), null, 'the forward file keeps W whole');
  }
  // The layers' W^T (K = intermediate size, 9216 for the 2B shape) stays one product.
  assert.equal(columnSlices(2 * COLUMN_SLICE, 'transposed'), null);
});

for (const bits of [8, 4] as QuantBits[]) {
  test(`int${bits}: the tiny model's reverse sweep reads the head's W^T in column slices, over the whole vocabulary`, async () => {
    const folder = await openModelFolder(await ensureTinyModel());
    const file = await quantizedWeightsFile(folder, bits, 'weights', { cacheDir });
    const transposed = quantizedFileLayout(folder, bits, 'transposed', file.dir);
    const split = buildForwardGraph(folder, { hookLayer: 1, weights: (g) => quantizedWeights(g, file, transposed) });
    const read = weightNames(split.backward).filter((n) => n.startsWith('model.embed_tokens.weight.cols') && n.endsWith('.q.T'));
    const expected = columnSlices(folder.config.vocabSize, 'transposed');
    assert.ok(expected && expected.length > 1, `the tiny model's vocabulary (${folder.config.vocabSize}) is wider than 2 x ${COLUMN_SLICE}`);
    assert.deepEqual(read.sort(), expected.map((s) => `model.embed_tokens.weight.cols${s.first}.q.T`).sort());
    assert.ok(!weightNames(split.backward).includes('model.embed_tokens.weight.q.T'), 'the whole W^T is not read as well');
  });
}
