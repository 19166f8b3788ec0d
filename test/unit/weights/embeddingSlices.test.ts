/**
 * A 16-bit embedding too large for onnxruntime to fold its float32 Cast is read as row slices (each
 * folded once): the graph then computes exactly what the whole-table graph does. Forced here on the
 * tiny BF16 model by a small slice size (its 67 MB float32 table in five slices).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildForwardGraph } from '../../../src/engine/gemma2/forwardGraph';
import { openModelFolder } from '../../../src/engine/model/modelFolder';
import { serializeModel } from '../../../src/engine/onnx/serialize';
import { bool, createSession, f32, i64, runSession } from '../../../src/engine/runtime/session';
import { modelWeights } from '../../../src/engine/weights/graphWeights';
import { ensureTinyModel } from '../../fixtures/tinyModel';
import { seededIds } from '../gemma2/gemma2TestKit';

test('a sliced embedding gives exactly the whole table\'s lookups and head logits', async () => {
  const folder = await openModelFolder(await ensureTinyModel({ dtype: 'bf16' }));
  const c = folder.config;
  // Ids from every slice, the first and the last row included.
  const ids = [2, 0, c.vocabSize - 1, ...seededIds(5, 9, c.vocabSize - 2)];
  const seq = ids.length;
  const logitsOf = async (foldedBytes?: number) => {
    const g = buildForwardGraph(folder, { hookLayer: 2, weights: (b) => modelWeights(b, folder, foldedBytes) });
    const { session } = await createSession({ bytes: serializeModel(g, { externalDataDir: folder.dir }), externalDataDir: folder.dir }, { device: 'cpu' });
    const zeros = (n: number, dims: number[]) => f32(new Float32Array(n), dims);
    const feeds: Record<string, ReturnType<typeof f32>> = {
      input_ids: i64(ids, [1, seq]),
      attention_mask: i64(new Array(seq).fill(1), [1, seq]),
      position_ids: i64(ids.map((_, t) => t), [1, seq]),
      past_length: i64([0], [1]),
      plane_n: zeros(c.hiddenSize, [1, c.hiddenSize]),
      plane_b: zeros(1, [1]),
      alpha: zeros(1, [1]),
      steer_mask: bool(new Array(seq).fill(0), [1, seq]),
      resid_add: zeros(c.numHiddenLayers * c.hiddenSize, [1, c.numHiddenLayers, c.hiddenSize]),
      ablate_dir: zeros(c.numHiddenLayers * c.hiddenSize, [1, c.numHiddenLayers, c.hiddenSize]),
    };
    for (let i = 0; i < c.numHiddenLayers; i++) {
      feeds[`past.${i}.key`] = zeros(0, [1, c.numKeyValueHeads, 0, c.headDim]);
      feeds[`past.${i}.value`] = zeros(0, [1, c.numKeyValueHeads, 0, c.headDim]);
    }
    const out = await runSession(session, feeds, ['last_logits', 'hidden_states.0']);
    await session.release();
    return { logits: Array.from(out.last_logits.data as Float32Array), embedded: Array.from(out['hidden_states.0'].data as Float32Array), slices: g.initializers.filter((init) => init.tensor.name.startsWith('model.embed_tokens.weight.rows')).length };
  };
  const whole = await logitsOf();
  const sliced = await logitsOf(16 * 1024 * 1024);
  assert.equal(whole.slices, 0);
  assert.equal(sliced.slices, 5);
  assert.deepEqual(sliced.embedded, whole.embedded, 'the same embedding rows');
  assert.deepEqual(sliced.logits, whole.logits, 'the same head logits');
});
