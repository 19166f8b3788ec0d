/**
 * Writing a Gemma-2 folder in the Hugging Face layout, as transformers' save_pretrained does:
 * config.json (Gemma2ForCausalLM), generation_config.json and safetensors files. Shared by the
 * tiny random model and the pretrainer.
 */
import { mkdir, open, readdir, rm, writeFile, type FileHandle } from 'node:fs/promises';
import * as path from 'node:path';
import { InputError } from '../errors';
import { CONFIG_FILE } from './modelFolder';
import { encodeSafetensorsHeader, type SafetensorsEntry } from './safetensors';
import { encodeTensor } from './tensorData';

/** The sizes of a Gemma-2 that a maker of models chooses (the tiny model, pretraining). */
export interface Gemma2Shape {
  layers: number;
  hidden: number;
  heads: number;
  kvHeads: number;
  headDim: number;
  intermediate: number;
  /** The window of the sliding (even) layers. */
  slidingWindow: number;
}

const SHAPE_KEYS = ['layers', 'hidden', 'heads', 'kvHeads', 'headDim', 'intermediate', 'slidingWindow'] as const;

/** Refuses a shape no Gemma-2 can have; `label` names a key as the caller's user knows it (a flag, a field). */
export function checkGemma2Shape(shape: Gemma2Shape, what: string, label: (key: keyof Gemma2Shape) => string = (key) => key): void {
  for (const key of SHAPE_KEYS) {
    if (!Number.isInteger(shape[key]) || shape[key] < 1) throw new InputError(`${what} ${label(key)} must be a positive integer, got ${shape[key]}`);
  }
  if (shape.heads % shape.kvHeads !== 0) throw new InputError(`${what} ${label('heads')} (${shape.heads}) must be a multiple of ${label('kvHeads')} (${shape.kvHeads})`);
  if (shape.headDim % 2 !== 0) throw new InputError(`${what} ${label('headDim')} must be even for RoPE, got ${shape.headDim}`);
}

/**
 * Makes `out` ready for a model: created, and empty or, with `force`, rid of the entries `owned`
 * names, which the writer is about to write (removed first, so that a link planted in their place is
 * not followed, and stale files of another layout do not linger). `refusal` is the error otherwise.
 */
export async function prepareModelFolder(out: string, force: boolean, owned: (entry: string) => boolean, refusal: string): Promise<void> {
  await mkdir(out, { recursive: true });
  const entries = await readdir(out);
  if (entries.length === 0) return;
  if (!force) throw new InputError(refusal);
  await Promise.all(entries.filter(owned).map((e) => rm(path.join(out, e), { recursive: true, force: true })));
}

export interface Gemma2Architecture extends Gemma2Shape {
  vocabSize: number;
  maxPositions: number;
}

export interface SpecialTokenIds {
  bos: number;
  pad: number;
  /** <eos> and <end_of_turn>: a base model stops on the first, a chat turn ends with the second. */
  eos: number[];
}

const ATTN_LOGIT_SOFTCAP = 50.0;
const FINAL_LOGIT_SOFTCAP = 30.0;

/** Keys that transformers types as float: written as 50.0, not 50. */
const CONFIG_FLOAT_KEYS = new Set([
  'attention_dropout',
  'attn_logit_softcapping',
  'final_logit_softcapping',
  'initializer_range',
  'rms_norm_eps',
  'rope_theta',
]);

/** config.json as transformers writes it for Gemma2ForCausalLM (sorted keys); even layers slide. */
export function gemma2ConfigJson(arch: Gemma2Architecture, tokens: SpecialTokenIds, torchDtype: string): Record<string, unknown> {
  return {
    architectures: ['Gemma2ForCausalLM'],
    attention_bias: false,
    attention_dropout: 0,
    attn_logit_softcapping: ATTN_LOGIT_SOFTCAP,
    bos_token_id: tokens.bos,
    cache_implementation: 'hybrid',
    eos_token_id: tokens.eos,
    final_logit_softcapping: FINAL_LOGIT_SOFTCAP,
    head_dim: arch.headDim,
    hidden_act: 'gelu_pytorch_tanh',
    hidden_activation: 'gelu_pytorch_tanh',
    hidden_size: arch.hidden,
    initializer_range: 0.02,
    intermediate_size: arch.intermediate,
    layer_types: Array.from({ length: arch.layers }, (_, i) => (i % 2 === 0 ? 'sliding_attention' : 'full_attention')),
    max_position_embeddings: arch.maxPositions,
    model_type: 'gemma2',
    num_attention_heads: arch.heads,
    num_hidden_layers: arch.layers,
    num_key_value_heads: arch.kvHeads,
    pad_token_id: tokens.pad,
    query_pre_attn_scalar: arch.headDim,
    rms_norm_eps: 1e-6,
    rope_theta: 10000,
    sliding_window: arch.slidingWindow,
    tie_word_embeddings: true,
    torch_dtype: torchDtype,
    use_cache: true,
    vocab_size: arch.vocabSize,
  };
}

/** config.json and generation_config.json. */
export async function writeModelMetadata(out: string, config: Record<string, unknown>, tokens: SpecialTokenIds): Promise<void> {
  await writeFile(path.join(out, CONFIG_FILE), pythonJson(config, CONFIG_FLOAT_KEYS));
  await writeFile(
    path.join(out, 'generation_config.json'),
    pythonJson({
      _from_model_config: true,
      bos_token_id: tokens.bos,
      cache_implementation: 'hybrid',
      eos_token_id: tokens.eos,
      pad_token_id: tokens.pad,
    }),
  );
}

/** One safetensors file of `tensors`, each encoded in its dtype from the float32 values `valuesOf` gives, in order. */
export async function writeSafetensorsFile(file: string, tensors: SafetensorsEntry[], valuesOf: (t: SafetensorsEntry) => Float32Array): Promise<void> {
  const handle = await open(file, 'w');
  try {
    await writeSafetensors(handle, tensors, valuesOf);
  } finally {
    await handle.close();
  }
}

/** The same through an open handle, a tensor at a time (for writeWholeFileFrom). */
export async function writeSafetensors(handle: FileHandle, tensors: SafetensorsEntry[], valuesOf: (t: SafetensorsEntry) => Float32Array): Promise<void> {
  await handle.write(encodeSafetensorsHeader(tensors, { format: 'pt' }));
  for (const t of tensors) await handle.write(encodeTensor(valuesOf(t), t.dtype));
}

/** JSON with two-space indentation; the values of `floatKeys` keep a decimal point, so Python reads floats. */
function pythonJson(object: Record<string, unknown>, floatKeys: ReadonlySet<string> = new Set()): string {
  const lines = Object.entries(object).map(([key, value]) => {
    const text =
      floatKeys.has(key) && typeof value === 'number' && Number.isInteger(value)
        ? value.toFixed(1)
        : JSON.stringify(value, null, 2).replace(/\n/g, '\n  ');
    return `  ${JSON.stringify(key)}: ${text}`;
  });
  return `{\n${lines.join(',\n')}\n}\n`;
}
