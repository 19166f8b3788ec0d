/** Runs a forward graph built with a given ModelWeights once on the CPU: one unsteered row from an empty cache. */
import { buildForwardGraph } from '../../../src/engine/gemma2/forwardGraph';
import type { ModelWeights } from '../../../src/engine/gemma2/layers';
import type { ModelFolder } from '../../../src/engine/model/types';
import type { GraphBuilder, GraphParts } from '../../../src/engine/onnx/graph';
import { serializeModel } from '../../../src/engine/onnx/serialize';
import { bool, createSession, f32, i64, runSession, type HostTensor } from '../../../src/engine/runtime/session';

export interface GraphRun {
  /** Soft-capped logits of the last position. */
  logits: number[];
  /** The embedding's output (hidden_states.0), [ids.length * hidden]. */
  embedded: number[];
  /** The forward graph that ran. */
  graph: GraphParts;
}

export async function runForwardOnce(folder: ModelFolder, ids: readonly number[], weights: (g: GraphBuilder) => ModelWeights): Promise<GraphRun> {
  const c = folder.config;
  const graph = buildForwardGraph(folder, { hookLayer: Math.floor(c.numHiddenLayers / 2), weights }).forward;
  const { session } = await createSession({ bytes: serializeModel(graph, { externalDataDir: folder.dir }), externalDataDir: folder.dir }, { device: 'cpu' });
  const seq = ids.length;
  const zeros = (dims: number[]) => f32(new Float32Array(dims.reduce((a, d) => a * d, 1)), dims);
  const feeds: Record<string, HostTensor> = {
    input_ids: i64(ids, [1, seq]),
    train_residual: zeros([0, seq, c.hiddenSize]),
    train_y: zeros([0, seq, c.hiddenSize]),
    attention_mask: i64(new Array(seq).fill(1), [1, seq]),
    position_ids: i64(ids.map((_, t) => t), [1, seq]),
    past_length: i64([0], [1]),
    plane_n: zeros([1, c.hiddenSize]),
    plane_b: zeros([1]),
    alpha: zeros([1]),
    steer_mask: bool(new Array(seq).fill(0), [1, seq]),
    resid_add: zeros([1, c.numHiddenLayers, c.hiddenSize]),
    ablate_dir: zeros([1, c.numHiddenLayers, c.hiddenSize]),
    scored_positions: i64([], [1, 0]),
    target_ids: i64([], [1, 0]),
    label_mask: zeros([1, 0]),
  };
  for (let i = 0; i < c.numHiddenLayers; i++) {
    feeds[`past.${i}.key`] = zeros([1, c.numKeyValueHeads, 0, c.headDim]);
    feeds[`past.${i}.value`] = zeros([1, c.numKeyValueHeads, 0, c.headDim]);
  }
  try {
    const out = await runSession(session, feeds, ['last_logits', 'hidden_states.0']);
    return { logits: Array.from(out.last_logits.data as Float32Array), embedded: Array.from(out['hidden_states.0'].data as Float32Array), graph };
  } finally {
    await session.release();
  }
}
