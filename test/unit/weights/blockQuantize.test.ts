/**
 * Block quantization (engine/weights/blockQuantize.ts) against two independent readers of its layout:
 * onnxruntime's own MatMulNBits, which must compute x @ dequantize(W)^T, and a plain float64 bound on
 * the rounding error of every value. The in-graph row dequantization (the embedding lookup) must give
 * dequantize()'s values exactly.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { GraphBuilder } from '../../../src/engine/onnx/graph';
import { serializeModel } from '../../../src/engine/onnx/serialize';
import { createSession, f32, i64, runSession } from '../../../src/engine/runtime/session';
import { blockSizeFor, dequantize, quantizeRows, type QuantBits } from '../../../src/engine/weights/blockQuantize';
import { gatherQuantizedRows, matmulNBits } from '../../../src/engine/weights/quantizedOps';
import { seededNormals } from '../../reference/randomGemma2';
import { testTempDir } from '../../fixtures/tempDir';
import { constantMatrix, productError } from './quantizedKit';

const dir = testTempDir('quantize');

function seededMatrix(rows: number, cols: number, seed: number): Float32Array {
  const normal = seededNormals(seed);
  return Float32Array.from({ length: rows * cols }, normal);
}

test('the block size is the largest of 128, 64, 32 that divides the columns, else 32 with padding', () => {
  const sizes = [2304, 9216, 256000, 192, 64, 72, 100].map(blockSizeFor);
  assert.deepEqual(sizes, [128, 128, 128, 64, 64, 32, 32]);
});

// 72 columns: two full blocks of 32 and one padded block, so the padding is exercised; 192 and 384
// columns: blocks of 64 and 128, the sizes the demo model and Gemma's widths get.
for (const [bits, cols] of [[8, 72], [4, 72], [8, 192], [4, 384]] as [QuantBits, number][]) {
  const rows = 40;
  const w = seededMatrix(rows, cols, bits + cols);
  const q = quantizeRows(w, rows, cols, bits);
  const d = dequantize(q);
  const label = `int${bits}, ${cols} columns in blocks of ${q.blockSize}`;

  test(`${label}: every value is within half a step of its block's scale`, () => {
    let worst = 0;
    for (let r = 0; r < rows; r++) {
      for (let c = 0; c < cols; c++) {
        const scale = q.scales[r * q.blocks + Math.floor(c / q.blockSize)];
        worst = Math.max(worst, Math.abs(w[r * cols + c] - d[r * cols + c]) / scale);
      }
    }
    console.log(`${label}: worst rounding error ${worst.toFixed(4)} steps`);
    assert.ok(worst <= 0.5 + 1e-4, `worst error ${worst} steps`);
  });

  test(`${label}: onnxruntime's MatMulNBits reads the layout as x @ dequantize(W)^T, and the row lookup gives dequantize(W)'s rows`, async () => {
    const g = new GraphBuilder();
    const x = g.input('x', 'float32', ['batch', cols]);
    const ids = g.input('ids', 'int64', ['batch']);
    const m = constantMatrix(g, q);
    g.output('y', matmulNBits(x, m));
    g.output('rows', gatherQuantizedRows(m, ids));
    const { session } = await createSession({ bytes: serializeModel(g, { externalDataDir: dir }) }, { device: 'cpu' });
    const batch = 3;
    const xs = seededMatrix(batch, cols, 100 + bits + cols);
    const picked = [0, 17, rows - 1];
    const out = await runSession(session, { x: f32(xs, [batch, cols]), ids: i64(picked, [batch]) });
    // accuracy_level 4 rounds the activations to int8 per block: allow 2% of the output's scale.
    const { worst, scale } = productError(xs, d, batch, rows, cols, out.y.data as Float32Array);
    console.log(`${label}: MatMulNBits max error ${worst.toExponential(2)} for outputs up to ${scale.toFixed(2)}`);
    assert.ok(worst <= 0.02 * scale, `MatMulNBits differs by ${worst}`);
    picked.forEach((r, b) => {
      for (let c = 0; c < cols; c++) assert.equal(out.rows.data[b * cols + c], d[r * cols + c], `row ${r}, column ${c}`);
    });
    await session.release();
  });
}

test('an all-zero block has scale 0 and stands for zeros', () => {
  const q = quantizeRows(new Float32Array(64), 1, 64, 4, 32);
  assert.deepEqual(Array.from(q.scales), [0, 0]);
  assert.ok(dequantize(q).every((v) => v === 0));
});
