/**
 * A large quantized matrix multiplied in row slices (graphWeights.ts, quantizedOps.matmulNBitsInSlices)
 * computes what the whole product computes: the tiny model's logits with its embedding (the head) cut
 * into uneven slices against the graph that packs it whole, and the product's gradient against the
 * whole product's and against float64 dequantize(W) arithmetic. The training graph's reverse sweep
 * reads W^T whole, never a slice.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildForwardGraph } from '../../../src/engine/gemma2/forwardGraph';
import { openModelFolder } from '../../../src/engine/model/modelFolder';
import { gradients } from '../../../src/engine/onnx/autodiff';
import { GraphBuilder, type GraphParts } from '../../../src/engine/onnx/graph';
import { mul, reduceSum } from '../../../src/engine/onnx/ops';
import { serializeModel } from '../../../src/engine/onnx/serialize';
import { createSession, f32, runSession } from '../../../src/engine/runtime/session';
import { dequantize, quantizeRows, type QuantBits } from '../../../src/engine/weights/blockQuantize';
import { quantizedWeights } from '../../../src/engine/weights/graphWeights';
import { quantizedFileLayout, quantizedWeightsFile } from '../../../src/engine/weights/quantizedFile';
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
  test(`int${bits}: the head in row slices gives the logits of the head packed whole, and training reads W^T whole`, async () => {
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
    assert.ok(backward.includes('model.embed_tokens.weight.q.T'), `the reverse sweep does not read W^T: ${backward.join(', ')}`);
    assert.ok(backward.every((n) => !n.includes('.rows')), `the reverse sweep reads a slice: ${backward.filter((n) => n.includes('.rows')).join(', ')}`);
  });
}

test('the gradient of a product in row slices is the whole product\'s: dY @ W through W^T\'s quantization', async () => {
  const [rows, cols, batch] = [96, 64, 3];
  const normal = seededNormals(7);
  const w = Float32Array.from({ length: rows * cols }, normal);
  const wt = Float32Array.from({ length: cols * rows }, (_, i) => w[(i % rows) * cols + Math.floor(i / rows)]);
  const qt = quantizeRows(wt, cols, rows, 8);
  const g = new GraphBuilder();
  const x = g.input('x', 'float32', [batch, cols]);
  const r = g.input('r', 'float32', [batch, rows]);
  const transposed = () => constantMatrix(g, qt, () => assert.fail('second order'));
  const slices = [40, 40, 16].map((count, i) => {
    const first = i * 40;
    return constantMatrix(g, quantizeRows(w.subarray(first * cols, (first + count) * cols), count, cols, 8), () => assert.fail('a slice alone'));
  });
  const whole = constantMatrix(g, quantizeRows(w, rows, cols, 8), transposed);
  const [gSliced] = gradients(g, reduceSum(mul(matmulNBitsInSlices(x, slices, transposed), r), [0, 1], false), [x]);
  const [gWhole] = gradients(g, reduceSum(mul(matmulNBits(x, whole), r), [0, 1], false), [x]);
  g.output('g_sliced', gSliced);
  g.output('g_whole', gWhole);
  const { session } = await createSession({ bytes: serializeModel(g, { externalDataDir: testTempDir('sliced-gradient') }) }, { device: 'cpu' });
  const xs = Float32Array.from({ length: batch * cols }, normal);
  const rs = Float32Array.from({ length: batch * rows }, normal);
  const out = await runSession(session, { x: f32(xs, [batch, cols]), r: f32(rs, [batch, rows]) });
  await session.release();
  assert.deepEqual(Array.from(out.g_sliced.data as Float32Array), Array.from(out.g_whole.data as Float32Array));
  // Against float64 arithmetic: dL/dx = r @ dequantize(W^T)^T, within accuracy_level 4's rounding of r.
  const d = dequantize(qt);
  const { worst, scale } = productError(rs, d, batch, cols, rows, out.g_sliced.data as Float32Array);
  console.log(`sliced product's gradient: max error ${worst.toExponential(2)} against float64 for values up to ${scale.toFixed(2)}`);
  assert.ok(worst <= 0.02 * scale, `gradient differs by ${worst}`);
});
