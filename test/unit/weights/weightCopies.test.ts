/**
 * One copy of each weight while a plane trains: generation and training run the same forward graph
 * (one session), and the backward graph split off it reads only what the reverse sweep through the
 * layers above the hook needs: in the quantized formats only W^T's quantization (never W itself), in
 * f32 the upper layers' and the head's matrices in the other orientation. The forward graph never
 * reads W^T, so generating never needs the transposed file.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildForwardGraph } from '../../../src/engine/gemma2/forwardGraph';
import { openModelFolder } from '../../../src/engine/model/modelFolder';
import type { ModelWeights } from '../../../src/engine/gemma2/layers';
import type { ModelFolder } from '../../../src/engine/model/types';
import type { GraphBuilder, GraphParts } from '../../../src/engine/onnx/graph';
import { floatWeightsFile } from '../../../src/engine/weights/floatFile';
import { floatWeights, modelWeights, quantizedWeights } from '../../../src/engine/weights/graphWeights';
import { quantizedFileLayout, quantizedWeightsFile } from '../../../src/engine/weights/quantizedFile';
import { ensureTinyModel } from '../../fixtures/tinyModel';
import { testTempDir } from '../../fixtures/tempDir';

const HOOK = 1;
const cacheDir = testTempDir('weight-copies');

const weightNames = (parts: GraphParts) => parts.initializers.filter((i) => i.kind === 'external').map((i) => i.tensor.name);

/** The layer a weight belongs to, or null for the embedding and the final norm. */
function layerOf(name: string): number | null {
  const m = /^model\.layers\.(\d+)\./.exec(name);
  return m ? Number(m[1]) : null;
}

test('int8 and int4: the backward graph reads W^T of the layers above the hook and the head, never W', async () => {
  const folder = await openModelFolder(await ensureTinyModel());
  for (const bits of [8, 4] as const) {
    const file = await quantizedWeightsFile(folder, bits, 'weights', { cacheDir });
    // The layout only: the forward graph is built (and could run) before the transposed file exists.
    const transposed = quantizedFileLayout(folder, bits, 'transposed', file.dir);
    const split = buildForwardGraph(folder, { hookLayer: HOOK, weights: (g) => quantizedWeights(g, file, transposed) });
    const forward = weightNames(split.forward);
    const backward = weightNames(split.backward);
    assert.ok(forward.every((n) => !n.endsWith('.T')), `int${bits} forward reads W^T: ${forward.filter((n) => n.endsWith('.T')).join(', ')}`);
    const matrices = backward.filter((n) => n.endsWith('.q') || n.endsWith('.q.T') || n.endsWith('.scales') || n.endsWith('.scales.T'));
    assert.ok(matrices.length > 0 && matrices.every((n) => n.endsWith('.T')), `int${bits} backward reads W: ${matrices.filter((n) => !n.endsWith('.T')).join(', ')}`);
    for (const n of backward) {
      const layer = layerOf(n);
      assert.ok(layer === null || layer >= HOOK, `int${bits} backward reads ${n}, below the hook layer ${HOOK}`);
      assert.ok(layer !== HOOK || n.includes('post_feedforward_layernorm'), `int${bits} backward reads ${n} (of the hook layer, only its r is needed)`);
    }
    console.log(`int${bits}: forward ${forward.length} weights, backward ${backward.length} (${matrices.length} of W^T's)`);
  }
});

test('f32: the backward graph reads only the layers above the hook and the head; no weight passes a Cast or a Transpose', async () => {
  const bf16 = await openModelFolder(await ensureTinyModel({ dtype: 'bf16' }));
  const file = await floatWeightsFile(bf16, { cacheDir });
  const f32 = await openModelFolder(await ensureTinyModel());
  const cases: [string, ModelFolder, (g: GraphBuilder) => ModelWeights][] = [
    ['BF16 model, float32 file', bf16, (g) => floatWeights(g, file)],
    ['float32 model, in place', f32, (g) => modelWeights(g, f32)],
  ];
  for (const [what, folder, weights] of cases) {
    const split = buildForwardGraph(folder, { hookLayer: HOOK, weights });
    const backward = weightNames(split.backward);
    const below = backward.filter((n) => (layerOf(n) ?? Infinity) < HOOK || (layerOf(n) === HOOK && !n.includes('post_feedforward_layernorm')));
    assert.deepEqual(below, [], what);
    assert.ok(backward.includes('model.embed_tokens.weight'), `${what}: the head is differentiated through`);
    // onnxruntime would fold such a node into a converted copy of the weight at every session creation.
    for (const [part, graph] of [['forward', split.forward], ['backward', split.backward]] as const) {
      const weights = new Set(weightNames(graph));
      const folded = graph.nodes.filter((n) => (n.opType === 'Cast' || n.opType === 'Transpose') && n.inputs.some((t) => t !== null && weights.has(t.name)));
      assert.deepEqual(folded.map((n) => `${n.opType}(${n.inputs[0]?.name})`), [], `${what}, ${part}`);
    }
    console.log(`f32, ${what}: forward ${weightNames(split.forward).length} weights, backward ${backward.length}`);
  }
});
