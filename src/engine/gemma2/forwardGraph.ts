/**
 * The forward graph: prefill and KV-cached decode of a batch of rows in one graph (the sequence
 * and the cached length are dynamic; a prefill passes an empty cache), with the steering hook at
 * one layer whose plane, alpha and steered positions are inputs per row.
 *
 * Inputs
 *   input_ids [batch, seq] int64, position_ids [batch, seq] int64
 *   attention_mask [batch, past+seq] int64 (1 = token, 0 = padding or an unfilled cache slot; rows are left-padded)
 *   past.{i}.key, past.{i}.value [batch, kvHeads, past, headDim] for every layer i: the cache's slots
 *   past_length [1] int64: how many of the slots hold earlier positions (this run's tokens take the next ones)
 *   plane_n [batch, hidden], plane_b [batch], alpha [batch], steer_mask [batch, seq] bool
 *   resid_add, ablate_dir [batch, layers, hidden]: residual-stream edits after each layer (residualEdits.ts)
 *   target_ids [batch, scored] int64: the token each of the first `scored` positions predicts (scored = 0
 *     when no NLL is wanted: then its head costs nothing)
 * Outputs
 *   last_logits [batch, vocab]: soft-capped logits of each row's last position
 *   present.{i}.key, present.{i}.value [batch, kvHeads, seq, headDim]: this run's keys and values, which
 *     the caller writes into its cache (so no run copies the whole cache in or out)
 *   hook_residual, hook_y [batch, seq, hidden]: the residual stream before the MLP add and the
 *     unsteered post_feedforward_layernorm output at the hook layer (the train graph's inputs)
 *   token_nll [batch, scored]: -log p(target_ids[t] | positions <= t)
 *   hidden_states.{k} [batch, seq, hidden], k = 0..layers: the residual stream after the embedding (k = 0)
 *     and after layer k-1 with that layer's edits (k = layers: before the final norm)
 *
 * One hook layer per graph, fixed at compile time: a plane belongs to one layer, and per-layer
 * inputs at every layer would multiply the inputs and the hook work for a feature no caller uses.
 * A plane at another layer compiles (or reuses from the cache) another forward graph.
 */
import type { ModelFolder } from '../model/types';
import { InputError } from '../errors';
import { GraphBuilder, type ComputeDType, type Tensor } from '../onnx/graph';
import { slice, sliceBetween, squeeze, unsqueeze } from '../onnx/ops';
import { decoderLayer, embed, layerContext, logits, tokenNll, type ModelWeights } from './layers';
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

export function buildForwardGraph(folder: ModelFolder, options: ForwardGraphOptions): GraphBuilder {
  checkHookLayer(folder, options.hookLayer);
  const c = folder.config;
  const g = new GraphBuilder({ computeDtype: options.computeDtype, name: 'gemma2-forward' });
  const dtype = g.computeDtype;

  const inputIds = g.input('input_ids', 'int64', ['batch', 'seq']);
  const attentionMask = g.input('attention_mask', 'int64', ['batch', 'past+seq']);
  const positionIds = g.input('position_ids', 'int64', ['batch', 'seq']);
  const past = Array.from({ length: c.numHiddenLayers }, (_, i) => ({
    key: g.input(pastKeyName(i), dtype, ['batch', c.numKeyValueHeads, 'past', c.headDim]),
    value: g.input(pastValueName(i), dtype, ['batch', c.numKeyValueHeads, 'past', c.headDim]),
  }));
  const plane = {
    n: unsqueeze(g.input('plane_n', dtype, ['batch', c.hiddenSize]), [1]),
    b: unsqueeze(g.input('plane_b', dtype, ['batch']), [1, 2]),
    alpha: unsqueeze(g.input('alpha', dtype, ['batch']), [1, 2]),
    steered: unsqueeze(g.input('steer_mask', 'bool', ['batch', 'seq']), [-1]),
  };
  const edits = {
    add: g.input('resid_add', dtype, ['batch', c.numHiddenLayers, c.hiddenSize]),
    ablate: g.input('ablate_dir', dtype, ['batch', c.numHiddenLayers, c.hiddenSize]),
  };
  const targetIds = g.input('target_ids', 'int64', ['batch', 'scored']);

  const cache = { slots: 'past', filled: g.input('past_length', 'int64', [1]) };
  const ctx = layerContext(c, options.weights?.(g) ?? modelWeights(g, folder), positionIds, attentionMask, cache);
  const r = hookScale(ctx.weights.tensor(`model.layers.${options.hookLayer}.post_feedforward_layernorm.weight`));
  let hidden = embed(ctx, inputIds);
  g.output(hiddenStateName(0), hidden);
  for (let i = 0; i < c.numHiddenLayers; i++) {
    const hook = i === options.hookLayer ? (y: Tensor) => steerHookSite(y, r, plane) : undefined;
    const layer = decoderLayer(ctx, i, hidden, past[i], hook);
    g.output(presentKeyName(i), layer.key);
    g.output(presentValueName(i), layer.value);
    if (hook) {
      g.output('hook_residual', layer.residual);
      g.output('hook_y', layer.y);
    }
    hidden = editResidual(layer.hidden, i, edits);
    g.output(hiddenStateName(i + 1), hidden);
  }

  g.output('last_logits', logits(ctx, squeeze(slice(hidden, 1, -1), [1])));
  // One graph (and one session, one copy of the weights) for generation and scoring alike.
  g.output('token_nll', tokenNll(logits(ctx, sliceBetween(hidden, 1, 0, 'scored', 'scored')), targetIds));
  return g;
}
