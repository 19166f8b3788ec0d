/**
 * The forward graph: prefill and KV-cached decode of a batch of rows in one graph (the sequence
 * and the cached length are dynamic; a prefill passes an empty cache), with the steering hook at
 * one layer whose plane, alpha and steered positions are inputs per row. The same graph runs a
 * plane's training step: training rows enter at the hook site with their cached hook-site values,
 * pass the same nodes of the layers above it (so one session holds one copy of each weight), and
 * are scored by the same head. The step's reverse sweep is split off into a graph of its own
 * (onnx/splitBackward.ts), opened only while a plane trains.
 *
 * Rows: the first `batch` run from their token ids (generation, hook sites, hidden states, NLL);
 * the next `train` start at the hook layer (training). One kind is empty in practice, which makes the
 * other kind's nodes free; every per-row input below covers both kinds (ROWS = batch + train rows).
 *
 * Inputs
 *   input_ids [batch, seq] int64
 *   train_residual, train_y [train, seq, hidden]: a training row's residual stream before the MLP add
 *     and unsteered post_feedforward_layernorm output at the hook layer (the hook_* outputs of an earlier run)
 *   attention_mask [rows, past+seq] int64 (1 = token, 0 = padding or an unfilled cache slot; rows are left-padded)
 *   position_ids [rows, seq] int64
 *   past.{i}.key, past.{i}.value [batch (rows above the hook layer), kvHeads, past, headDim] for every
 *     layer i: the cache's slots
 *   past_length [1] int64: how many of the slots hold earlier positions (this run's tokens take the next ones)
 *   plane_n [rows, hidden], plane_b [rows], alpha [rows], steer_mask [rows, seq] bool
 *   resid_add, ablate_dir [rows, layers, hidden]: residual-stream edits after each layer (residualEdits.ts)
 *   scored_positions [rows, scored] int64: the positions whose next token is scored (scored = 0 when no
 *     NLL is wanted: then its head costs nothing; a training step scores only its labelled positions)
 *   target_ids [rows, scored] int64: the token each of them predicts
 *   label_mask [rows, scored] (compute dtype): 1 where a prediction counts in `loss`
 * Outputs
 *   last_logits [batch, vocab]: soft-capped logits of each row's last position
 *   present.{i}.key, present.{i}.value [batch (rows above the hook layer), kvHeads, seq, headDim]: this
 *     run's keys and values, which the caller writes into its cache (so no run copies the whole cache in or out)
 *   hook_residual, hook_y [batch, seq, hidden]: the hook-site values (what training rows enter with)
 *   token_nll [rows, scored]: -log p(target_ids[k] | positions <= scored_positions[k])
 *   loss []: sum(label_mask * token_nll) / sum(label_mask), what a training step minimises
 *   hidden_states.{k} [batch or rows, seq, hidden], k = 0..layers: the residual stream after the
 *     embedding (k = 0) and after layer k-1 with that layer's edits (k = layers: before the final norm)
 *   saved.* : the values the backward graph needs, empty unless there are training rows
 * The backward graph's outputs are grad_n [hidden] and grad_b []: the loss's gradient with respect to
 * a plane shared by every training row (the rows' own gradients summed).
 *
 * One hook layer per graph, fixed at compile time: a plane belongs to one layer, and per-layer
 * inputs at every layer would multiply the inputs and the hook work for a feature no caller uses.
 * A plane at another layer compiles (or reuses from the cache) another forward graph.
 */
import type { ModelFolder } from '../model/types';
import { InputError } from '../errors';
import { gradients } from '../onnx/autodiff';
import { GraphBuilder, type ComputeDType, type Tensor } from '../onnx/graph';
import { add, cast, concat, div, equal, greater, matmul, mul, rangeOf, reduceSum, slice, sliceBetween, squeeze, unsqueeze, where } from '../onnx/ops';
import { splitBackward, type SplitGraph } from '../onnx/splitBackward';
import { decoderLayer, embed, headNll, layerContext, logits, type ModelWeights } from './layers';
import { modelWeights } from '../weights/graphWeights';
import { editResidual } from './residualEdits';
import { hookScale, steerHookSite } from './steeringHook';

export interface ForwardGraphOptions {
  hookLayer: number;
  /** Default float32; float64 exists for tight finite-difference checks. */
  computeDtype?: ComputeDType;
  /** How the graph reads the weights (default: the model folder's, dense in the compute dtype). */
  weights?: (g: GraphBuilder) => ModelWeights;
}

export const pastKeyName = (layer: number) => `past.${layer}.key`;
export const pastValueName = (layer: number) => `past.${layer}.value`;
export const presentKeyName = (layer: number) => `present.${layer}.key`;
export const presentValueName = (layer: number) => `present.${layer}.value`;
/** The residual stream after the embedding (0) and after each layer (k = layer + 1). */
export const hiddenStateName = (k: number) => `hidden_states.${k}`;

/** Checks a hook layer against the model. */
export function checkHookLayer(folder: ModelFolder, hookLayer: number): void {
  const layers = folder.config.numHiddenLayers;
  if (!Number.isInteger(hookLayer) || hookLayer < 0 || hookLayer >= layers) {
    throw new InputError(`hook layer ${hookLayer} is not a layer of ${folder.dir} (0 to ${layers - 1})`);
  }
}

/** Every row of a run: generation rows, then training rows (a concatenation's dim, as in 'past+seq'). */
const ROWS = 'batch+train';

export function buildForwardGraph(folder: ModelFolder, options: ForwardGraphOptions): SplitGraph {
  checkHookLayer(folder, options.hookLayer);
  const c = folder.config;
  const L = options.hookLayer;
  const g = new GraphBuilder({ computeDtype: options.computeDtype, name: 'gemma2-forward' });
  const dtype = g.computeDtype;

  // Inputs first: each symbolic dim is then read from a graph input, in either graph of the split.
  const inputIds = g.input('input_ids', 'int64', ['batch', 'seq']);
  const train = {
    residual: g.input('train_residual', dtype, ['train', 'seq', c.hiddenSize]),
    y: g.input('train_y', dtype, ['train', 'seq', c.hiddenSize]),
  };
  const attentionMask = g.input('attention_mask', 'int64', [ROWS, 'past+seq']);
  const positionIds = g.input('position_ids', 'int64', [ROWS, 'seq']);
  const past = Array.from({ length: c.numHiddenLayers }, (_, i) => ({
    key: g.input(pastKeyName(i), dtype, [i <= L ? 'batch' : ROWS, c.numKeyValueHeads, 'past', c.headDim]),
    value: g.input(pastValueName(i), dtype, [i <= L ? 'batch' : ROWS, c.numKeyValueHeads, 'past', c.headDim]),
  }));
  const filled = g.input('past_length', 'int64', [1]);
  const planeN = g.input('plane_n', dtype, [ROWS, c.hiddenSize]);
  const planeB = g.input('plane_b', dtype, [ROWS]);
  const plane = {
    n: unsqueeze(planeN, [1]),
    b: unsqueeze(planeB, [1, 2]),
    alpha: unsqueeze(g.input('alpha', dtype, [ROWS]), [1, 2]),
    steered: unsqueeze(g.input('steer_mask', 'bool', [ROWS, 'seq']), [-1]),
  };
  const edits = {
    add: g.input('resid_add', dtype, [ROWS, c.numHiddenLayers, c.hiddenSize]),
    ablate: g.input('ablate_dir', dtype, [ROWS, c.numHiddenLayers, c.hiddenSize]),
  };
  const scoredPositions = g.input('scored_positions', 'int64', [ROWS, 'scored']);
  const targetIds = g.input('target_ids', 'int64', [ROWS, 'scored']);
  const labelMask = g.input('label_mask', dtype, [ROWS, 'scored']);

  const generated = (t: Tensor) => sliceBetween(t, 0, 0, 'batch', 'batch');
  const weights = options.weights?.(g) ?? modelWeights(g, folder);
  const cache = { slots: 'past', filled };
  const below = layerContext(c, weights, generated(positionIds), generated(attentionMask), cache);
  const above = layerContext(c, weights, positionIds, attentionMask, cache);
  const belowEdits = { add: generated(edits.add), ablate: generated(edits.ablate) };

  let hidden = embed(below, inputIds);
  g.output(hiddenStateName(0), hidden);
  for (let i = 0; i < c.numHiddenLayers; i++) {
    const layer = decoderLayer(i <= L ? below : above, i, hidden, past[i]);
    g.output(presentKeyName(i), layer.key);
    g.output(presentValueName(i), layer.value);
    if (i < L) hidden = editResidual(layer.hidden, i, belowEdits);
    else if (i > L) hidden = editResidual(layer.hidden, i, edits);
    else {
      g.output('hook_residual', layer.residual);
      g.output('hook_y', layer.y);
      // The training rows join here, and the hook steers every row.
      const r = hookScale(weights.tensor(`model.layers.${L}.post_feedforward_layernorm.weight`));
      const y = concat([layer.y, train.y], 0);
      hidden = editResidual(add(concat([layer.residual, train.residual], 0), steerHookSite(y, r, plane)), i, edits);
    }
    g.output(hiddenStateName(i + 1), hidden);
  }

  g.output('last_logits', logits(above, squeeze(slice(generated(hidden), 1, -1), [1])));
  // One graph (and one session, one copy of the weights) for generation, scoring and training alike.
  // The scored positions' residual streams, picked by a one-hot product (exact, and differentiable
  // by the rules at hand): its cost is seq / vocabulary of the head's.
  const pick = cast(equal(unsqueeze(scoredPositions, [-1]), rangeOf(scoredPositions, 'seq')), dtype);
  const nll = g.output('token_nll', headNll(above, matmul(pick, hidden), targetIds));
  const loss = g.output('loss', div(reduceSum(mul(nll, labelMask), [0, 1]), reduceSum(labelMask, [0, 1])));
  const keep = where(greater(g.dimTensor('train'), 0), g.int64s([Number.MAX_SAFE_INTEGER]), g.int64s([0]));

  const sweepStart = g.nodes.length;
  const [gradN, gradB] = gradients(g, loss, [planeN, planeB]);
  return splitBackward(g, sweepStart, { grad_n: reduceSum(gradN, [0]), grad_b: reduceSum(gradB, [0]) }, keep);
}
