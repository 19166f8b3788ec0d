/**
 * A straightforward float64 Gemma-2 (transformers' modeling_gemma2.py, eager attention) with the steering
 * hook of DESIGN.md section 1, for the fidelity tests of the compiled graphs. Plain loops, one position at a
 * time, nothing cached or fused: it is meant to be read against the model card, not to be fast.
 *
 * Conventions:
 * - Weights are row-major as stored in safetensors: a projection `W` of shape [out, in] maps `x` to `W x`.
 * - Padding: a row may carry an attention mask (1 = token, 0 = padding) whose tokens form one contiguous
 *   block (left or right padding). Padding is never attended to and gets no outputs (null entries).
 *   Position ids count the row's real tokens (0 for its first real token), as transformers' `generate`
 *   does with `attention_mask.cumsum(-1) - 1`; so padding a row does not change its outputs.
 * - The sliding window compares position ids: a query at `q` sees keys at `k` with `q - window < k <= q`.
 */
import { InputError } from '../../src/engine/errors';
import type { Gemma2Config, ModelFolder, TensorLocation } from '../../src/engine/model/types';
import { dot, hookLatent, hookScale, steerHookSite, type ReferencePlane } from './steering';

export type WeightArray = Float64Array | Float32Array;

export interface ReferenceModel {
  config: Gemma2Config;
  /** By transformers name; only the tensors of `gemma2WeightShapes` are used (the head is tied to the embedding). */
  weights: ReadonlyMap<string, WeightArray>;
}

/** The plane, alpha, hook layer and steered positions of one batch row. */
export interface RowSteer extends ReferencePlane {
  alpha: number;
  layer: number;
  /** Per position of the row (padding included); true where the hook applies. */
  positions: boolean[];
}

/**
 * Edits of one row's residual stream after decoder layers, keyed by layer, at every position: the
 * direction's component is removed first (x - dot(x, r) r), then the vector is added.
 */
export interface RowResidualEdits {
  add?: ReadonlyMap<number, ArrayLike<number>>;
  ablate?: ReadonlyMap<number, ArrayLike<number>>;
}

export interface ForwardOptions {
  /** Per row, per position: 1 for a token, 0 for padding. Omitted: every row is all tokens (rows may differ in length). */
  attentionMask?: number[][];
  /** Per row; null or missing: that row is not steered. */
  steer?: (RowSteer | null | undefined)[];
  /** 'last' (default): logits of each row's last token only; 'all': of every token. */
  logits?: 'last' | 'all';
  /** Return the hook-site values of this layer (see `HookSite`). */
  captureLayer?: number;
  /** Per row; null or missing: that row's residual stream is not edited. */
  edits?: (RowResidualEdits | null | undefined)[];
  /** Return the residual stream after the embedding and after every layer (see `RowOutput.hiddenStates`). */
  hiddenStates?: boolean;
}

/** What the training graph takes as cached inputs at a hook layer, per position. */
export interface HookSite {
  /** The residual stream before the MLP branch is added (after the attention add). */
  residual: Float64Array;
  /** The unsteered output of post_feedforward_layernorm. */
  y: Float64Array;
}

export interface RowOutput {
  /** Position ids given to RoPE (counted over real tokens; -1 at padding). */
  positionIds: number[];
  /** Soft-capped logits of the row's last real token. */
  lastLogits: Float64Array;
  /** With `logits: 'all'`: soft-capped logits per position, null at padding. */
  logits?: (Float64Array | null)[];
  /** With `captureLayer`: per position, null at padding. */
  hookSites?: (HookSite | null)[];
  /** With `hiddenStates`: [k][position] after the embedding (k = 0) and after layer k - 1 with its edits; null at padding. */
  hiddenStates?: (Float64Array | null)[][];
}

/**
 * The tensors a Gemma-2 model needs, with their shapes, by transformers name. Written here from the model
 * card rather than taken from the engine's reader, so that a wrong shape there shows up as a mismatch.
 */
export function gemma2WeightShapes(config: Gemma2Config): Map<string, number[]> {
  const { hiddenSize: d, intermediateSize: m, numAttentionHeads: heads, numKeyValueHeads: kvHeads, headDim } = config;
  const shapes = new Map<string, number[]>();
  shapes.set('model.embed_tokens.weight', [config.vocabSize, d]);
  for (let i = 0; i < config.numHiddenLayers; i++) {
    const p = `model.layers.${i}.`;
    shapes.set(`${p}self_attn.q_proj.weight`, [heads * headDim, d]);
    shapes.set(`${p}self_attn.k_proj.weight`, [kvHeads * headDim, d]);
    shapes.set(`${p}self_attn.v_proj.weight`, [kvHeads * headDim, d]);
    shapes.set(`${p}self_attn.o_proj.weight`, [d, heads * headDim]);
    shapes.set(`${p}mlp.gate_proj.weight`, [m, d]);
    shapes.set(`${p}mlp.up_proj.weight`, [m, d]);
    shapes.set(`${p}mlp.down_proj.weight`, [d, m]);
    for (const norm of ['input_layernorm', 'post_attention_layernorm', 'pre_feedforward_layernorm', 'post_feedforward_layernorm']) {
      shapes.set(`${p}${norm}.weight`, [d]);
    }
  }
  shapes.set('model.norm.weight', [d]);
  return shapes;
}

/** Checks that every needed tensor is present with the right number of elements. */
export function makeReferenceModel(config: Gemma2Config, weights: ReadonlyMap<string, WeightArray>): ReferenceModel {
  if (config.numAttentionHeads % config.numKeyValueHeads !== 0) {
    throw new InputError(`num_attention_heads (${config.numAttentionHeads}) must be a multiple of num_key_value_heads (${config.numKeyValueHeads})`);
  }
  if (config.headDim % 2 !== 0) throw new InputError(`head_dim must be even for rotate-half RoPE, got ${config.headDim}`);
  for (const [name, shape] of gemma2WeightShapes(config)) {
    const w = weights.get(name);
    const size = shape.reduce((a, b) => a * b, 1);
    if (!w) throw new InputError(`missing tensor ${name} (expected shape [${shape.join(', ')}])`);
    if (w.length !== size) throw new InputError(`tensor ${name} has ${w.length} elements, expected shape [${shape.join(', ')}] = ${size}`);
  }
  return { config, weights };
}

/** Reads the needed tensors of a model folder with the given reader (e.g. tensorData's `readTensor`). */
export async function loadReferenceModel(
  folder: ModelFolder,
  readTensor: (location: TensorLocation) => Promise<Float32Array>,
): Promise<ReferenceModel> {
  const weights = new Map<string, WeightArray>();
  for (const [name, shape] of gemma2WeightShapes(folder.config)) {
    const location = folder.tensors.get(name);
    if (!location) throw new InputError(`${folder.dir}: missing tensor ${name}`);
    if (location.shape.join(',') !== shape.join(',')) {
      throw new InputError(`${folder.dir}: tensor ${name} has shape [${location.shape.join(', ')}], expected [${shape.join(', ')}]`);
    }
    weights.set(name, await readTensor(location));
  }
  return makeReferenceModel(folder.config, weights);
}

function weight(model: ReferenceModel, name: string): WeightArray {
  const w = model.weights.get(name);
  if (!w) throw new InputError(`missing tensor ${name}`);
  return w;
}

/** `W x` for W of shape [rows, x.length], row-major. */
export function matVec(w: ArrayLike<number>, rows: number, x: ArrayLike<number>): Float64Array {
  const cols = x.length;
  const y = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    let sum = 0;
    for (let c = 0; c < cols; c++) sum += w[r * cols + c] * x[c];
    y[r] = sum;
  }
  return y;
}

/** Gemma's RMSNorm: `x / sqrt(mean(x^2) + eps) * (1 + w)`. */
export function rmsNorm(x: ArrayLike<number>, w: ArrayLike<number>, eps: number): Float64Array {
  let meanSquare = 0;
  for (let i = 0; i < x.length; i++) meanSquare += x[i] * x[i];
  meanSquare /= x.length;
  const scale = 1 / Math.sqrt(meanSquare + eps);
  const y = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) y[i] = x[i] * scale * (1 + w[i]);
  return y;
}

/** gelu with the tanh approximation (`gelu_pytorch_tanh`). */
export function geluTanh(x: number): number {
  return 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x * x * x)));
}

/** `cap * tanh(x / cap)`, or x when the cap is disabled. */
export function softCap(x: number, cap: number | null): number {
  return cap === null ? x : cap * Math.tanh(x / cap);
}

/**
 * Rotate-half RoPE of one head vector at position `position`: pairs (i, i + half) turn by the angle
 * `position * theta^(-2i / headDim)`.
 */
export function applyRope(x: ArrayLike<number>, position: number, theta: number): Float64Array {
  const headDim = x.length;
  const half = headDim / 2;
  const y = new Float64Array(headDim);
  for (let i = 0; i < half; i++) {
    const angle = position * Math.pow(theta, (-2 * i) / headDim);
    const cos = Math.cos(angle);
    const sin = Math.sin(angle);
    y[i] = x[i] * cos - x[i + half] * sin;
    y[i + half] = x[i + half] * cos + x[i] * sin;
  }
  return y;
}

/** Grouped-query attention: consecutive groups of query heads share one key/value head. */
export function kvHeadOf(head: number, config: Gemma2Config): number {
  return Math.floor(head / (config.numAttentionHeads / config.numKeyValueHeads));
}

function headSlice(v: Float64Array, head: number, headDim: number): Float64Array {
  return v.subarray(head * headDim, (head + 1) * headDim);
}

/**
 * Self-attention of one layer over one row, on already normalised inputs (null = padding).
 * Returns the o_proj output per position (null at padding).
 */
function selfAttention(model: ReferenceModel, layer: number, xs: (Float64Array | null)[], positionIds: number[]): (Float64Array | null)[] {
  const c = model.config;
  const p = `model.layers.${layer}.self_attn.`;
  const wq = weight(model, `${p}q_proj.weight`);
  const wk = weight(model, `${p}k_proj.weight`);
  const wv = weight(model, `${p}v_proj.weight`);
  const wo = weight(model, `${p}o_proj.weight`);
  const hd = c.headDim;
  const window = c.slidingLayers[layer] ? c.slidingWindow : Infinity;
  const scaling = Math.pow(c.queryPreAttnScalar, -0.5);

  const rope = (projected: Float64Array, numHeads: number, position: number): Float64Array => {
    const out = new Float64Array(projected.length);
    for (let h = 0; h < numHeads; h++) out.set(applyRope(headSlice(projected, h, hd), position, c.ropeTheta), h * hd);
    return out;
  };
  const q = xs.map((x, t) => (x ? rope(matVec(wq, c.numAttentionHeads * hd, x), c.numAttentionHeads, positionIds[t]) : null));
  const k = xs.map((x, t) => (x ? rope(matVec(wk, c.numKeyValueHeads * hd, x), c.numKeyValueHeads, positionIds[t]) : null));
  const v = xs.map((x) => (x ? matVec(wv, c.numKeyValueHeads * hd, x) : null));

  return q.map((qt, t) => {
    if (!qt) return null;
    const heads = new Float64Array(c.numAttentionHeads * hd);
    for (let h = 0; h < c.numAttentionHeads; h++) {
      const g = kvHeadOf(h, c);
      const qh = headSlice(qt, h, hd);
      // Keys this query may see: real tokens, causal, within the window on sliding layers.
      const keys: number[] = [];
      for (let s = 0; s <= t; s++) {
        if (k[s] && positionIds[t] - window < positionIds[s]) keys.push(s);
      }
      const scores = keys.map((s) => softCap(dot(qh, headSlice(k[s]!, g, hd)) * scaling, c.attnLogitSoftcapping));
      const max = Math.max(...scores);
      const exps = scores.map((z) => Math.exp(z - max));
      const total = exps.reduce((a, b) => a + b, 0);
      for (let j = 0; j < keys.length; j++) {
        const vs = headSlice(v[keys[j]]!, g, hd);
        const weightOfKey = exps[j] / total;
        for (let i = 0; i < hd; i++) heads[h * hd + i] += weightOfKey * vs[i];
      }
    }
    return matVec(wo, c.hiddenSize, heads);
  });
}

/** `down(gelu_tanh(gate(x)) * up(x))`. */
function mlp(model: ReferenceModel, layer: number, x: Float64Array): Float64Array {
  const c = model.config;
  const p = `model.layers.${layer}.mlp.`;
  const gate = matVec(weight(model, `${p}gate_proj.weight`), c.intermediateSize, x);
  const up = matVec(weight(model, `${p}up_proj.weight`), c.intermediateSize, x);
  const act = new Float64Array(c.intermediateSize);
  for (let i = 0; i < act.length; i++) act[i] = geluTanh(gate[i]) * up[i];
  return matVec(weight(model, `${p}down_proj.weight`), c.hiddenSize, act);
}

export interface DecoderLayerOutput {
  /** The residual stream after the layer, null at padding. */
  hidden: (Float64Array | null)[];
  /** The hook-site values of this layer, null at padding. */
  sites: (HookSite | null)[];
}

/**
 * One decoder layer over one row (null = padding). `hook`, when given, replaces the
 * post_feedforward_layernorm output `y` at position t before it is added to the residual stream.
 */
export function referenceDecoderLayer(
  model: ReferenceModel,
  layer: number,
  hidden: (Float64Array | null)[],
  positionIds: number[],
  hook?: (y: Float64Array, t: number) => Float64Array,
): DecoderLayerOutput {
  const c = model.config;
  const p = `model.layers.${layer}.`;
  const norm = (x: Float64Array, name: string) => rmsNorm(x, weight(model, `${p}${name}.weight`), c.rmsNormEps);

  const attended = selfAttention(model, layer, hidden.map((x) => (x ? norm(x, 'input_layernorm') : null)), positionIds);
  const sites: (HookSite | null)[] = [];
  const out = hidden.map((x, t) => {
    const a = attended[t];
    if (!x || !a) {
      sites.push(null);
      return null;
    }
    const postAttention = norm(a, 'post_attention_layernorm');
    const residual = new Float64Array(c.hiddenSize);
    for (let i = 0; i < residual.length; i++) residual[i] = x[i] + postAttention[i];
    const y = norm(mlp(model, layer, norm(residual, 'pre_feedforward_layernorm')), 'post_feedforward_layernorm');
    sites.push({ residual, y });
    const branch = hook ? hook(y, t) : y;
    const next = new Float64Array(c.hiddenSize);
    for (let i = 0; i < next.length; i++) next[i] = residual[i] + branch[i];
    return next;
  });
  return { hidden: out, sites };
}

/** Final norm, tied head, final soft-capping. */
export function referenceLogits(model: ReferenceModel, hidden: Float64Array): Float64Array {
  const c = model.config;
  const h = rmsNorm(hidden, weight(model, 'model.norm.weight'), c.rmsNormEps);
  const logits = matVec(weight(model, 'model.embed_tokens.weight'), c.vocabSize, h);
  for (let i = 0; i < logits.length; i++) logits[i] = softCap(logits[i], c.finalLogitSoftcapping);
  return logits;
}

function rowMask(ids: number[], mask: number[] | undefined, row: number): boolean[] {
  if (!mask) return ids.map(() => true);
  if (mask.length !== ids.length) throw new InputError(`attention mask row ${row} has ${mask.length} entries for ${ids.length} ids`);
  const real = mask.map((m, t) => {
    if (m !== 0 && m !== 1) throw new InputError(`attention mask row ${row} position ${t} is ${m}, expected 0 or 1`);
    return m === 1;
  });
  const first = real.indexOf(true);
  const last = real.lastIndexOf(true);
  if (first < 0) throw new InputError(`attention mask row ${row} has no tokens`);
  if (real.slice(first, last + 1).includes(false)) throw new InputError(`attention mask row ${row} has padding between tokens; only left or right padding is supported`);
  return real;
}

function checkSteer(steer: RowSteer, config: Gemma2Config, length: number, row: number): void {
  if (steer.n.length !== config.hiddenSize) throw new InputError(`steer row ${row}: n has ${steer.n.length} entries, expected hidden_size ${config.hiddenSize}`);
  if (!Number.isInteger(steer.layer) || steer.layer < 0 || steer.layer >= config.numHiddenLayers) {
    throw new InputError(`steer row ${row}: layer ${steer.layer} is not in [0, ${config.numHiddenLayers - 1}]`);
  }
  if (steer.positions.length !== length) throw new InputError(`steer row ${row}: positions has ${steer.positions.length} entries for ${length} ids`);
  if (!Number.isFinite(steer.b) || !Number.isFinite(steer.alpha)) throw new InputError(`steer row ${row}: b and alpha must be finite`);
}

/** The whole model over a batch of rows; each row is computed on its own. */
export function referenceForward(model: ReferenceModel, ids: number[][], options: ForwardOptions = {}): RowOutput[] {
  const c = model.config;
  const embed = weight(model, 'model.embed_tokens.weight');
  const d = c.hiddenSize;
  if (options.captureLayer !== undefined && !(options.captureLayer >= 0 && options.captureLayer < c.numHiddenLayers)) {
    throw new InputError(`captureLayer ${options.captureLayer} is not in [0, ${c.numHiddenLayers - 1}]`);
  }
  return ids.map((rowIds, row) => {
    if (rowIds.length === 0) throw new InputError(`row ${row} has no ids`);
    const real = rowMask(rowIds, options.attentionMask?.[row], row);
    const steer = options.steer?.[row] ?? null;
    if (steer) checkSteer(steer, c, rowIds.length, row);

    let count = 0;
    const positionIds = real.map((isReal) => (isReal ? count++ : -1));
    let hidden: (Float64Array | null)[] = rowIds.map((id, t) => {
      if (!real[t]) return null;
      if (!Number.isInteger(id) || id < 0 || id >= c.vocabSize) throw new InputError(`row ${row} position ${t}: id ${id} is not in [0, ${c.vocabSize - 1}]`);
      const x = new Float64Array(d);
      for (let i = 0; i < d; i++) x[i] = embed[id * d + i] * Math.sqrt(d);
      return x;
    });

    let hookSites: (HookSite | null)[] | undefined;
    const edits = options.edits?.[row] ?? null;
    const hiddenStates = options.hiddenStates ? [hidden] : undefined;
    for (let layer = 0; layer < c.numHiddenLayers; layer++) {
      let hook: ((y: Float64Array, t: number) => Float64Array) | undefined;
      if (steer && steer.layer === layer) {
        const r = hookScale(weight(model, `model.layers.${layer}.post_feedforward_layernorm.weight`));
        hook = (y, t) => (steer.positions[t] ? steerHookSite(y, r, steer, steer.alpha) : y);
      }
      const result = referenceDecoderLayer(model, layer, hidden, positionIds, hook);
      if (layer === options.captureLayer) hookSites = result.sites;
      hidden = edits ? result.hidden.map((x) => (x ? editResidual(x, edits.ablate?.get(layer), edits.add?.get(layer)) : null)) : result.hidden;
      hiddenStates?.push(hidden);
    }

    const last = real.lastIndexOf(true);
    const output: RowOutput = { positionIds, lastLogits: referenceLogits(model, hidden[last]!) };
    if (options.logits === 'all') output.logits = hidden.map((h, t) => (t === last ? output.lastLogits : h ? referenceLogits(model, h) : null));
    if (hookSites) output.hookSites = hookSites;
    if (hiddenStates) output.hiddenStates = hiddenStates;
    return output;
  });
}

/** `x - dot(x, r) r` for the direction r (when given), then `+ v` (when given). */
export function editResidual(x: Float64Array, r: ArrayLike<number> | undefined, v: ArrayLike<number> | undefined): Float64Array {
  const out = Float64Array.from(x);
  if (r) {
    const along = dot(x, r);
    for (let i = 0; i < out.length; i++) out[i] -= along * r[i];
  }
  if (v) for (let i = 0; i < out.length; i++) out[i] += v[i];
  return out;
}

/** `-log softmax(logits)[target]`, in float64. */
export function negLogLikelihood(logits: Float64Array, target: number): number {
  let max = -Infinity;
  for (const z of logits) max = Math.max(max, z);
  let sum = 0;
  for (const z of logits) sum += Math.exp(z - max);
  return max + Math.log(sum) - logits[target];
}

/** Summed NLL of `ids[1:]` given their prefixes, from per-position logits. */
function nextTokenNllSum(logits: (Float64Array | null)[], ids: number[]): number {
  let sum = 0;
  for (let t = 0; t + 1 < ids.length; t++) sum += negLogLikelihood(logits[t]!, ids[t + 1]);
  return sum;
}

/** Mean NLL of `ids[1:]` given their prefixes, on the soft-capped logits. */
export function referenceNll(model: ReferenceModel, ids: number[], steer?: RowSteer): number {
  if (ids.length < 2) throw new InputError(`the NLL needs at least 2 ids, got ${ids.length}`);
  const [result] = referenceForward(model, [ids], { logits: 'all', steer: [steer] });
  return nextTokenNllSum(result.logits!, ids) / (ids.length - 1);
}

export interface SteeringLossOptions {
  alpha: number;
  lambdaMle: number;
  lambdaCap: number;
  lambdaTheta: number;
  useAveraging: boolean;
}

export interface SteeringLoss {
  loss: number;
  /** Mean next-token NLL over every target of every example (pooled), steered at every position. */
  nll: number;
  /** `-mean_i sigmoid(dot(u_i, n) + b)` over the unsteered latents of every token of every example. */
  capLoss: number;
  /** `acos(clamp(-b, -0.999, 0.999))`. */
  thetaLoss: number;
}

/**
 * The method's loss (DESIGN.md section 1) in `sequence` mode for one minibatch. `n` is used as given, so
 * finite differences in `n` match a gradient that treats `n` as a free vector.
 */
export function referenceSteeringLoss(
  model: ReferenceModel,
  examples: number[][],
  plane: ReferencePlane & { layer: number },
  options: SteeringLossOptions,
): SteeringLoss {
  let nllSum = 0;
  let nllCount = 0;
  let capSum = 0;
  let capCount = 0;
  const r = hookScale(weight(model, `model.layers.${plane.layer}.post_feedforward_layernorm.weight`));
  for (const ids of examples) {
    if (ids.length < 2) throw new InputError(`every example needs at least 2 ids, got ${ids.length}`);
    const steer: RowSteer = { ...plane, alpha: options.alpha, positions: ids.map(() => true) };
    const [result] = referenceForward(model, [ids], { logits: 'all', steer: [steer], captureLayer: plane.layer });
    nllSum += nextTokenNllSum(result.logits!, ids);
    nllCount += ids.length - 1;
    // The hook at layer L does not change y at layer L itself, so the steered run's sites are the unsteered latents.
    for (const site of result.hookSites!) {
      const u = hookLatent(site!.y, r);
      capSum += 1 / (1 + Math.exp(-(dot(u, plane.n) + plane.b)));
      capCount++;
    }
  }
  const nll = nllSum / nllCount;
  const capLoss = -capSum / capCount;
  const thetaLoss = Math.acos(Math.min(0.999, Math.max(-0.999, -plane.b)));
  const loss = options.lambdaMle * nll + (options.useAveraging ? options.lambdaCap * capLoss + options.lambdaTheta * thetaLoss : 0);
  return { loss, nll, capLoss, thetaLoss };
}
