/**
 * Gemma-2's layers as functions over the graph builder, in the order of the model card
 * (transformers' modeling_gemma2.py, eager attention). Shapes: the residual stream is
 * [batch, seq, hidden]; keys and values are [batch, kvHeads, total, headDim] where `total` counts
 * the cached positions and the new ones. Everything runs in the graph's compute dtype.
 */
import type { Gemma2Config } from '../model/types';
import type { DType, GradientRule, Tensor } from '../onnx/graph';
import {
  add,
  cast,
  concat,
  cos,
  div,
  equal,
  gather,
  geluTanh,
  greater,
  logicalAnd,
  logicalNot,
  matmul,
  matmulTransB,
  mul,
  rangeOf,
  sliceBetween,
  reduceMean,
  reshape,
  sin,
  softCappedNll,
  softmax,
  sqrt,
  sub,
  sumToShape,
  tanh,
  transpose,
  unsqueeze,
  where,
} from '../onnx/ops';
import type { Dim } from '../onnx/shape';

/** What every layer of one graph shares: the config, the weights, RoPE tables and attention masks. */
export interface LayerContext {
  config: Gemma2Config;
  weights: ModelWeights;
  rope: RopeTables;
  masks: AttentionMasks;
  cache?: CacheSlots;
}

/** A model tensor by its transformers name, in the compute dtype. */
export type WeightLookup = (name: string) => Tensor;

export const EMBEDDING = 'model.embed_tokens.weight';

/**
 * How a graph reads the model's weights. The layers only ask for these four things, so that the
 * weights can be dense (float32 or float64), kept in their stored 16-bit dtype, or block-quantized
 * (engine/weights/graphWeights.ts) without the layer code knowing.
 */
export interface ModelWeights {
  /** A norm's weight (or any small tensor), in the compute dtype. */
  tensor(name: string): Tensor;
  /** x @ W^T for the bias-free projection `name` (stored [out, in]). */
  project(x: Tensor, name: string): Tensor;
  /** The embedding's rows for int64 ids, in the compute dtype. */
  embedRows(ids: Tensor): Tensor;
  /** h @ E^T: the head tied to the embedding. */
  head(h: Tensor): Tensor;
}

/** Weights as dense tensors in the compute dtype: the model folder's (cast), or graph inputs when pretraining. */
export function denseWeights(weight: WeightLookup): ModelWeights {
  return {
    tensor: weight,
    project: (x, name) => linear(x, weight(name)),
    embedRows: (ids) => gather(weight(EMBEDDING), ids),
    head: (h) => tiedHead(h, weight(EMBEDDING)),
  };
}

/**
 * A graph's KV cache: `slots` cache slots per row (a symbolic dim: the cache's capacity), of which the
 * first `filled` (an int64 [1] input) hold earlier positions; the rest are masked out. This run's
 * tokens take the slots from `filled` on.
 */
export interface CacheSlots {
  slots: Dim;
  filled: Tensor;
}

/**
 * The context of one graph over a model with `config` whose tensors `weights` provides (the model
 * folder's weights, or graph inputs when the weights themselves are trained): positions
 * [batch, seq] and key padding [batch, slots + seq] are graph inputs; `cache` is absent in a graph
 * without a KV cache.
 */
export function layerContext(config: Gemma2Config, weights: ModelWeights, positionIds: Tensor, attentionMask: Tensor, cache?: CacheSlots): LayerContext {
  return {
    config,
    weights,
    rope: ropeTables(positionIds, config, positionIds.graph.computeDtype),
    masks: attentionMasks(attentionMask, positionIds.shape[1], config.slidingWindow, cache),
    cache,
  };
}

/**
 * The score of a masked key: minus infinity to the softmax, yet finite, so that a padding query
 * whose keys are all masked gets a (discarded) uniform average instead of NaNs.
 */
const MASKED_SCORE = -1e30;

// ---------------------------------------------------------------- embedding and norms

/** Token embeddings times sqrt(hidden_size). */
export function embed(ctx: LayerContext, inputIds: Tensor): Tensor {
  return mul(ctx.weights.embedRows(inputIds), Math.sqrt(ctx.config.hiddenSize));
}

/** Gemma's RMSNorm over the last axis: x / sqrt(mean(x^2) + eps) * (1 + w). */
export function rmsNorm(x: Tensor, w: Tensor, eps: number): Tensor {
  const meanSquare = reduceMean(mul(x, x), [-1], true);
  return mul(div(x, sqrt(add(meanSquare, eps))), add(w, 1));
}

/** The norm `model.layers.{layer}.{name}` (or `model.norm` when layer is null). */
function norm(ctx: LayerContext, x: Tensor, layer: number | null, name: string): Tensor {
  const prefix = layer === null ? 'model' : `model.layers.${layer}`;
  return rmsNorm(x, ctx.weights.tensor(`${prefix}.${name}.weight`), ctx.config.rmsNormEps);
}

/** A bias-free nn.Linear: x @ W^T with W stored [out, in]. */
export function linear(x: Tensor, w: Tensor): Tensor {
  return matmulTransB(x, w);
}

/** cap * tanh(x / cap), or x when the config disables the cap. */
export function softCap(x: Tensor, cap: number | null): Tensor {
  return cap === null ? x : mul(tanh(div(x, cap)), cap);
}

// ---------------------------------------------------------------- rotary position embedding

/**
 * cos and sin of the rotation angles per position, [batch, 1, seq, headDim] (broadcast over heads),
 * and rotate_half as a constant [headDim, headDim] matrix.
 */
export interface RopeTables {
  cos: Tensor;
  sin: Tensor;
  rotateHalf: Tensor;
}

/** Angles `position * theta^(-2i / headDim)` for i < headDim/2, repeated for both halves (rotate-half layout). */
export function ropeTables(positionIds: Tensor, config: Gemma2Config, dtype: DType): RopeTables {
  const g = positionIds.graph;
  const d = config.headDim;
  const half = d / 2;
  const invFreq = Array.from({ length: half }, (_, i) => Math.pow(config.ropeTheta, (-2 * i) / d));
  const freqs = mul(unsqueeze(cast(positionIds, dtype), [-1]), g.constant(invFreq, dtype, [half]));
  const angles = unsqueeze(concat([freqs, freqs], -1), [1]);
  // rotate_half maps (x1, x2) to (-x2, x1): the signed permutation R with x R = rotate_half(x), exact
  // in floating point. A product rather than slices and a concat: the slices' gradient is a Pad with
  // an axes input, whose pads onnxruntime 1.30's transpose optimizer permutes as if they covered
  // every axis (the backward graph then fails at run time).
  const rotation = new Array<number>(d * d).fill(0);
  for (let i = 0; i < half; i++) {
    rotation[(i + half) * d + i] = -1;
    rotation[i * d + i + half] = 1;
  }
  return { cos: cos(angles), sin: sin(angles), rotateHalf: g.constant(rotation, dtype, [d, d]) };
}

/** x * cos + rotate_half(x) * sin, for x [batch, heads, seq, headDim]. */
export function applyRope(x: Tensor, rope: RopeTables): Tensor {
  return add(mul(x, rope.cos), mul(matmul(x, rope.rotateHalf), rope.sin));
}

// ---------------------------------------------------------------- attention masks

/** Which keys each query may see, bool [batch, 1, 1, seq, total] (broadcast over kv heads and groups). */
export interface AttentionMasks {
  global: Tensor;
  sliding: Tensor;
}

/**
 * Masks from the key padding (`attentionMask` [batch, slots + seq], 1 = token) and cache slot
 * indices: the keys are the cache's slots 0 .. slots-1 followed by this run's tokens, which sit at
 * slots filled .. filled+seq-1, as do the queries. Causal: k <= q; sliding layers also need
 * q - window < k. With left padding a row's positions and its slot indices differ by a constant, so
 * the window is the same whichever is compared; unfilled slots are masked by their padding.
 */
export function attentionMasks(attentionMask: Tensor, seq: Dim, window: number, cache?: CacheSlots): AttentionMasks {
  const newPos = cache ? add(rangeOf(attentionMask, seq), cache.filled) : rangeOf(attentionMask, seq);
  const keyPos = cache ? concat([rangeOf(attentionMask, cache.slots), newPos], 0) : newPos;
  const queryPos = unsqueeze(newPos, [-1]);
  const causal = logicalNot(greater(keyPos, queryPos));
  const inWindow = greater(keyPos, sub(queryPos, window));
  const keyIsToken = unsqueeze(equal(attentionMask, 1), [1]);
  const spread = (m: Tensor) => unsqueeze(logicalAnd(unsqueeze(m, [0]), keyIsToken), [1, 2]);
  return { global: spread(causal), sliding: spread(logicalAnd(causal, inWindow)) };
}

// ---------------------------------------------------------------- attention

/** Keys and values of the positions before this run (absent in a graph without a cache). */
export interface PastKeyValues {
  key: Tensor;
  value: Tensor;
}

export interface AttentionOutput {
  out: Tensor;
  /** Keys (after RoPE) and values of this run's positions: what the cache takes in. */
  key: Tensor;
  value: Tensor;
}

/** Splits the last axis into heads: [batch, seq, heads*headDim] -> [batch, heads, seq, headDim]. */
function splitHeads(x: Tensor, heads: number, headDim: number): Tensor {
  const [batch, seq] = x.shape;
  return transpose(reshape(x, [batch, seq, heads, headDim]), [0, 2, 1, 3]);
}

/**
 * Grouped-query self-attention of decoder layer `layer`. Query heads are viewed as
 * [kvHeads, groups] so that each group of consecutive query heads meets its one key/value head
 * by broadcasting (transformers' repeat_kv, without the copy).
 */
export function selfAttention(ctx: LayerContext, layer: number, x: Tensor, past?: PastKeyValues): AttentionOutput {
  const c = ctx.config;
  const p = `model.layers.${layer}.self_attn`;
  const [batch, seq] = x.shape;
  const groups = c.numAttentionHeads / c.numKeyValueHeads;

  const q = applyRope(splitHeads(ctx.weights.project(x, `${p}.q_proj.weight`), c.numAttentionHeads, c.headDim), ctx.rope);
  const kNew = applyRope(splitHeads(ctx.weights.project(x, `${p}.k_proj.weight`), c.numKeyValueHeads, c.headDim), ctx.rope);
  const vNew = splitHeads(ctx.weights.project(x, `${p}.v_proj.weight`), c.numKeyValueHeads, c.headDim);

  const qGrouped = reshape(q, [batch, c.numKeyValueHeads, groups, seq, c.headDim]);
  const scoresWith = (key: Tensor) => matmul(qGrouped, transpose(unsqueeze(key, [2]), [0, 1, 2, 4, 3]));
  const weighted = (probs: Tensor, value: Tensor) => matmul(probs, unsqueeze(value, [2]));
  // With a cache, the cached and the new keys are scored apart and the scores joined, never the keys:
  // a decode step then reads the cache once instead of copying it into a longer one.
  const cache = past && ctx.cache;
  if (past && !cache) throw new Error('selfAttention: a cache needs the context of a graph with cache slots');
  const scores = past ? concat([scoresWith(past.key), scoresWith(kNew)], -1) : scoresWith(kNew);
  const capped = softCap(mul(scores, Math.pow(c.queryPreAttnScalar, -0.5)), c.attnLogitSoftcapping);
  const mask = c.slidingLayers[layer] ? ctx.masks.sliding : ctx.masks.global;
  const probs = softmax(where(mask, capped, MASKED_SCORE));
  let heads: Tensor;
  if (past && cache) {
    const keys = probs.shape[probs.rank - 1];
    const fromCache = sliceBetween(probs, probs.rank - 1, 0, cache.slots, cache.slots);
    const fromNew = sliceBetween(probs, probs.rank - 1, cache.slots, keys, seq);
    heads = add(weighted(fromCache, past.value), weighted(fromNew, vNew));
  } else {
    heads = weighted(probs, vNew);
  }
  const merged = reshape(transpose(heads, [0, 3, 1, 2, 4]), [batch, seq, c.numAttentionHeads * c.headDim]);
  return { out: ctx.weights.project(merged, `${p}.o_proj.weight`), key: kNew, value: vNew };
}

// ---------------------------------------------------------------- MLP and decoder layer

/** down(gelu_tanh(gate(x)) * up(x)). */
export function mlp(ctx: LayerContext, layer: number, x: Tensor): Tensor {
  const p = `model.layers.${layer}.mlp`;
  const gate = geluTanh(ctx.weights.project(x, `${p}.gate_proj.weight`));
  return ctx.weights.project(mul(gate, ctx.weights.project(x, `${p}.up_proj.weight`)), `${p}.down_proj.weight`);
}

export interface DecoderLayerOutput {
  /** The residual stream after the layer. */
  hidden: Tensor;
  /** The residual stream before the MLP branch is added (after the attention add). */
  residual: Tensor;
  /** The unsteered output of post_feedforward_layernorm: the hook site. */
  y: Tensor;
  key: Tensor;
  value: Tensor;
}

/**
 * input_layernorm -> attention -> post_attention_layernorm -> +residual -> pre_feedforward_layernorm
 * -> mlp -> post_feedforward_layernorm -> hook -> +residual. `hook` (the steering hook at this
 * layer, if any) replaces y before the add.
 */
export function decoderLayer(
  ctx: LayerContext,
  layer: number,
  hidden: Tensor,
  past?: PastKeyValues,
  hook?: (y: Tensor) => Tensor,
): DecoderLayerOutput {
  const attention = selfAttention(ctx, layer, norm(ctx, hidden, layer, 'input_layernorm'), past);
  const residual = add(hidden, norm(ctx, attention.out, layer, 'post_attention_layernorm'));
  const y = norm(ctx, mlp(ctx, layer, norm(ctx, residual, layer, 'pre_feedforward_layernorm')), layer, 'post_feedforward_layernorm');
  return { hidden: add(residual, hook ? hook(y) : y), residual, y, key: attention.key, value: attention.value };
}

// ---------------------------------------------------------------- head and loss

/** Final norm, tied head (the embedding matrix), final soft-capping: [..., hidden] -> [..., vocab]. */
export function logits(ctx: LayerContext, hidden: Tensor): Tensor {
  const h = norm(ctx, hidden, null, 'norm');
  return softCap(ctx.weights.head(h), ctx.config.finalLogitSoftcapping);
}

/**
 * h @ E^T written as (E @ h^T)^T: onnxruntime folds a transposed constant into a second copy, and the
 * embedding is the model's largest tensor; as MatMul's left operand it is read where Gather reads it.
 * The gradient has a rule of its own, gy @ E and gy^T @ h, which read the table as it lies: the chain
 * through the transposes would transpose the table, and over onnxruntime's 1 GB folding limit (a large
 * vocabulary in float32) on every run.
 */
export function tiedHead(h: Tensor, embedding: Tensor): Tensor {
  const swapLast = h.shape.map((_, i) => i);
  [swapLast[h.rank - 2], swapLast[h.rank - 1]] = [h.rank - 1, h.rank - 2];
  const logits = transpose(matmul(embedding, transpose(h, swapLast)), swapLast);
  const rule: GradientRule = ([gy], [nh, ne]) => [
    nh && gy ? matmul(gy, embedding) : null,
    ne && gy ? sumToShape(matmul(transpose(gy, swapLast), h), embedding.shape) : null,
  ];
  return h.graph.emit('Identity', [logits], {}, [{ dtype: logits.dtype, shape: logits.shape }], rule, [h, embedding])[0];
}

/**
 * -log p(target) per position from the final residual stream [..., hidden] (int64 targets [...]):
 * final norm, tied head and the soft-capped NLL as one op (ops.softCappedNll), whose reverse sweep
 * reads one vocabulary-wide tensor per position.
 */
export function headNll(ctx: LayerContext, hidden: Tensor, targets: Tensor): Tensor {
  return softCappedNll(ctx.weights.head(norm(ctx, hidden, null, 'norm')), targets, ctx.config.finalLogitSoftcapping);
}
