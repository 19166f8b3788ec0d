/**
 * A 16-bit embedding too large for onnxruntime to fold its float32 Cast is read as row slices (each
 * folded once): the graph then computes exactly what the whole-table graph does. Forced here on the
 * tiny BF16 model by a small slice size (its 67 MB float32 table in five slices).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { openModelFolder } from '../../../src/engine/model/modelFolder';
import { modelWeights } from '../../../src/engine/weights/graphWeights';
import { ensureTinyModel } from '../../fixtures/tinyModel';
import { seededIds } from '../gemma2/gemma2TestKit';
import { runForwardOnce } from './graphRun';

test("a sliced embedding gives exactly the whole table's lookups and head logits", async () => {
  const folder = await openModelFolder(await ensureTinyModel({ dtype: 'bf16' }));
  // Ids from every slice, the first and the last row included.
  const ids = [2, 0, folder.config.vocabSize - 1, ...seededIds(5, 9, folder.config.vocabSize - 2)];
  const whole = await runForwardOnce(folder, ids, (g) => modelWeights(g, folder));
  const sliced = await runForwardOnce(folder, ids, (g) => modelWeights(g, folder, 16 * 1024 * 1024));
  const slices = (run: typeof whole) => run.graph.initializers.filter((init) => init.tensor.name.startsWith('model.embed_tokens.weight.rows')).length;
  assert.equal(slices(whole), 0);
  assert.equal(slices(sliced), 5);
  assert.deepEqual(sliced.embedded, whole.embedded, 'the same embedding rows');
  assert.deepEqual(sliced.logits, whole.logits, 'the same head logits');
});
