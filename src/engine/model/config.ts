/**
 * config.json of a Gemma-2 model: validation and transformers' Gemma2Config defaults.
 *
 * The six size fields are required (a model's shape should be stated, not guessed from the
 * Gemma-2-2b defaults transformers would use); every other key takes transformers' default when absent.
 * Features the engine does not implement (attention bias, an untied head, bidirectional attention,
 * scaled RoPE, another activation) are refused here rather than silently ignored.
 */
import { InputError } from '../errors';
import { LIMITS, checkLimit, type SizeLimit } from '../limits';
import type { Gemma2Config } from './types';

/** Defaults of transformers' Gemma2Config for the keys the engine reads. */
const DEFAULTS = {
  head_dim: 256,
  max_position_embeddings: 8192,
  rms_norm_eps: 1e-6,
  rope_theta: 10000,
  query_pre_attn_scalar: 256,
  sliding_window: 4096,
  attn_logit_softcapping: 50.0,
  final_logit_softcapping: 30.0,
  hidden_activation: 'gelu_pytorch_tanh',
  bos_token_id: 2,
  eos_token_id: 1,
  pad_token_id: 0,
} as const;

const LAYER_TYPES = ['sliding_attention', 'full_attention'] as const;

/** The default steering layer of the method: the middle of the stack. */
export function defaultHookLayer(config: Pick<Gemma2Config, 'numHiddenLayers'>): number {
  return Math.floor(config.numHiddenLayers / 2);
}

export function parseGemma2Config(json: unknown, file: string): Gemma2Config {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new InputError(`${file}: expected a JSON object, got ${describe(json)}`);
  }
  const raw = json as Record<string, unknown>;
  const fail = (key: string, expected: string): never => {
    throw new InputError(`${file}: "${key}" must be ${expected}, got ${describe(raw[key])}`);
  };
  const has = (key: string) => raw[key] !== undefined;

  const positiveInteger = (key: string, fallback?: number): number => {
    if (!has(key)) {
      if (fallback === undefined) throw new InputError(`${file}: required key "${key}" is missing`);
      return fallback;
    }
    const v = raw[key];
    return typeof v === 'number' && Number.isInteger(v) && v > 0 ? v : fail(key, 'a positive integer');
  };
  const positiveNumber = (key: string, fallback: number): number => {
    if (!has(key)) return fallback;
    const v = raw[key];
    return typeof v === 'number' && Number.isFinite(v) && v > 0 ? v : fail(key, 'a positive number');
  };
  const softcap = (key: string, fallback: number): number | null => {
    if (!has(key)) return fallback;
    const v = raw[key];
    if (v === null) return null;
    return typeof v === 'number' && Number.isFinite(v) && v > 0 ? v : fail(key, 'a positive number or null');
  };
  const tokenId = (v: unknown) => typeof v === 'number' && Number.isInteger(v) && v >= 0;
  const refuse = (key: string, unsupported: unknown, why: string) => {
    if (raw[key] === unsupported) throw new InputError(`${file}: "${key}": ${JSON.stringify(unsupported)} is not supported (${why})`);
  };

  if (!has('model_type')) throw new InputError(`${file}: required key "model_type" is missing (expected "gemma2")`);
  if (raw.model_type !== 'gemma2') {
    throw new InputError(`${file}: model_type is ${describe(raw.model_type)}; only Gemma-2 models ("gemma2") are supported`);
  }

  // Sizes are bounded before anything is allocated for them (a layer list, tensor shapes, graphs).
  const size = (key: string, limit: SizeLimit, fallback?: number): number => {
    const v = positiveInteger(key, fallback);
    checkLimit(limit, `${file}: ${key}`, v);
    return v;
  };
  const vocabSize = size('vocab_size', LIMITS.vocabulary);
  const hiddenSize = size('hidden_size', LIMITS.width);
  const intermediateSize = size('intermediate_size', LIMITS.width);
  const numHiddenLayers = size('num_hidden_layers', LIMITS.layers);
  const numAttentionHeads = size('num_attention_heads', LIMITS.heads);
  const numKeyValueHeads = size('num_key_value_heads', LIMITS.heads);
  if (numAttentionHeads % numKeyValueHeads !== 0) {
    throw new InputError(
      `${file}: num_attention_heads (${numAttentionHeads}) must be a multiple of num_key_value_heads (${numKeyValueHeads})`,
    );
  }
  const headDim = size('head_dim', LIMITS.width, DEFAULTS.head_dim);
  if (headDim % 2 !== 0) throw new InputError(`${file}: head_dim must be even (rotate-half RoPE pairs its halves), got ${headDim}`);
  const maxPositionEmbeddings = positiveInteger('max_position_embeddings', DEFAULTS.max_position_embeddings);
  const rmsNormEps = positiveNumber('rms_norm_eps', DEFAULTS.rms_norm_eps);
  const queryPreAttnScalar = positiveNumber('query_pre_attn_scalar', DEFAULTS.query_pre_attn_scalar);
  const attnLogitSoftcapping = softcap('attn_logit_softcapping', DEFAULTS.attn_logit_softcapping);
  const finalLogitSoftcapping = softcap('final_logit_softcapping', DEFAULTS.final_logit_softcapping);
  const ropeTheta = parseRopeTheta(raw, file);

  const hiddenActivation = raw.hidden_activation ?? DEFAULTS.hidden_activation;
  if (hiddenActivation !== 'gelu_pytorch_tanh') fail('hidden_activation', '"gelu_pytorch_tanh" (the only activation Gemma-2 uses)');

  refuse('attention_bias', true, 'Gemma-2 projections have no bias');
  refuse('tie_word_embeddings', false, 'the engine uses the embedding as the output head');
  refuse('use_bidirectional_attention', true, 'the engine runs causal attention');

  const slidingLayers = parseSlidingLayers(raw, file, numHiddenLayers);
  // sliding_window null means no window at all: every layer attends to the whole prefix.
  let slidingWindow: number;
  if (raw.sliding_window === null) {
    slidingWindow = maxPositionEmbeddings;
    slidingLayers.fill(false);
  } else {
    slidingWindow = positiveInteger('sliding_window', DEFAULTS.sliding_window);
  }

  const bosTokenId = raw.bos_token_id ?? DEFAULTS.bos_token_id;
  if (!tokenId(bosTokenId)) fail('bos_token_id', 'a token id (a non-negative integer)');
  // pad positions are masked out, so a config without a pad token can use transformers' default id.
  const padTokenId = raw.pad_token_id ?? DEFAULTS.pad_token_id;
  if (!tokenId(padTokenId)) fail('pad_token_id', 'a token id (a non-negative integer) or null');
  const eos = raw.eos_token_id ?? DEFAULTS.eos_token_id;
  const eosTokenId = Array.isArray(eos) ? eos : [eos];
  if (eosTokenId.length === 0 || !eosTokenId.every(tokenId)) fail('eos_token_id', 'a token id or a non-empty list of token ids');
  const ids: [string, number][] = [['bos_token_id', bosTokenId as number], ['pad_token_id', padTokenId as number]];
  for (const id of eosTokenId as number[]) ids.push(['eos_token_id', id]);
  for (const [key, id] of ids) {
    if (id >= vocabSize) throw new InputError(`${file}: ${key} ${id} is outside the vocabulary (vocab_size ${vocabSize})`);
  }

  return {
    modelType: 'gemma2',
    vocabSize,
    hiddenSize,
    intermediateSize,
    numHiddenLayers,
    numAttentionHeads,
    numKeyValueHeads,
    headDim,
    maxPositionEmbeddings,
    rmsNormEps,
    ropeTheta,
    queryPreAttnScalar,
    slidingWindow,
    attnLogitSoftcapping,
    finalLogitSoftcapping,
    slidingLayers,
    hiddenActivation: 'gelu_pytorch_tanh',
    bosTokenId: bosTokenId as number,
    eosTokenId: eosTokenId as number[],
    padTokenId: padTokenId as number,
  };
}

/** `layer_types` when present; otherwise transformers' rule: even layers (0, 2, ...) slide. */
function parseSlidingLayers(raw: Record<string, unknown>, file: string, layers: number): boolean[] {
  const types = raw.layer_types;
  if (types === undefined || types === null) return Array.from({ length: layers }, (_, i) => i % 2 === 0);
  if (!Array.isArray(types) || types.length !== layers) {
    throw new InputError(`${file}: "layer_types" must be a list of ${layers} entries (num_hidden_layers), got ${describe(types)}`);
  }
  return types.map((t, i) => {
    if (!LAYER_TYPES.includes(t)) {
      throw new InputError(`${file}: layer_types[${i}] must be "sliding_attention" or "full_attention", got ${describe(t)}`);
    }
    return t === 'sliding_attention';
  });
}

/**
 * Older configs say `rope_theta`; newer transformers writes `rope_parameters: {rope_type, rope_theta}`.
 * Only plain RoPE is implemented.
 */
function parseRopeTheta(raw: Record<string, unknown>, file: string): number {
  let theta: unknown = raw.rope_theta;
  let key = 'rope_theta';
  for (const section of ['rope_parameters', 'rope_scaling']) {
    const params = raw[section];
    if (params === undefined || params === null) continue;
    if (typeof params !== 'object' || Array.isArray(params)) {
      throw new InputError(`${file}: "${section}" must be an object or null, got ${describe(params)}`);
    }
    const { rope_type: type, rope_theta: sectionTheta } = params as Record<string, unknown>;
    if (type !== undefined && type !== 'default') {
      throw new InputError(`${file}: ${section}.rope_type ${describe(type)} is not supported (only "default" RoPE)`);
    }
    if (sectionTheta !== undefined) {
      theta = sectionTheta;
      key = `${section}.rope_theta`;
    }
  }
  if (theta === undefined) return DEFAULTS.rope_theta;
  if (typeof theta !== 'number' || !Number.isFinite(theta) || theta <= 0) {
    throw new InputError(`${file}: "${key}" must be a positive number, got ${describe(theta)}`);
  }
  return theta;
}

function describe(v: unknown): string {
  if (v === undefined) return 'nothing';
  const text = JSON.stringify(v) ?? String(v);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}
