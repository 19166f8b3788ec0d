/**
 * The `stored` format computes the products in the file's own 16-bit dtype. Its graphs are meant for
 * CUDA (the CPU provider has no BF16 MatMul), but the CPU has F16 products, so the same graph code runs
 * here on the tiny F16 model: its logits must stay close to the exact float32 path on the same file
 * (activations rounded to F16 before each product; bound stated below, measured value printed).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { openModelFolder } from '../../../src/engine/model/modelFolder';
import { modelWeights, storedWeights } from '../../../src/engine/weights/graphWeights';
import { ensureTinyModel } from '../../fixtures/tinyModel';
import { seededIds } from '../gemma2/gemma2TestKit';
import { runForwardOnce } from './graphRun';

/** Largest logit difference allowed, relative to the largest logit: F16 keeps 11 significant bits. */
const RELATIVE_BOUND = 0.01;

test('stored F16 products give logits within 1% of the float32 path, with the same top token', async () => {
  const folder = await openModelFolder(await ensureTinyModel({ dtype: 'f16' }));
  const ids = seededIds(12, 21);
  const exact = await runForwardOnce(folder, ids, (g) => modelWeights(g, folder));
  const stored = await runForwardOnce(folder, ids, (g) => storedWeights(g, folder));
  assert.ok(stored.graph.nodes.some((n) => n.opType === 'MatMul' && n.inputs.some((t) => t?.dtype === 'float16')), 'the products run in F16');
  const scale = exact.logits.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
  const worst = exact.logits.reduce((m, v, i) => Math.max(m, Math.abs(v - stored.logits[i])), 0);
  console.log(`stored F16: largest logit difference ${worst.toExponential(3)} for logits up to ${scale.toFixed(3)}`);
  assert.ok(worst <= RELATIVE_BOUND * scale, `logits differ by ${worst}`);
  const top = (a: number[]) => a.reduce((best, v, i) => (v > a[best] ? i : best), 0);
  assert.equal(top(stored.logits), top(exact.logits));
});
