/**
 * A Hugging Face Gemma-2 model folder: config.json, safetensors weights (one file, or shards listed by
 * model.safetensors.index.json), tokenizer.json and tokenizer_config.json. Opening one validates all of it
 * and checks every tensor the model needs against the config, reading only file headers.
 *
 * The extension host imports this module: it must stay free of onnxruntime and transformers.
 */
import { createHash, type Hash } from 'node:crypto';
import { open, readdir, stat } from 'node:fs/promises';
import * as path from 'node:path';
import { InputError } from '../errors';
import { readBoundedFile } from '../limits';
import { defaultHookLayer, parseGemma2Config } from './config';
import { readExactly, readSafetensorsHeader, type SafetensorsHeader } from './safetensors';
import type { Gemma2Config, ModelFolder, ModelSummary, SafetensorsDtype, TensorLocation } from './types';

export const CONFIG_FILE = 'config.json';
export const WEIGHTS_FILE = 'model.safetensors';
export const WEIGHTS_INDEX_FILE = 'model.safetensors.index.json';
export const TOKENIZER_FILE = 'tokenizer.json';
export const TOKENIZER_CONFIG_FILE = 'tokenizer_config.json';

const WEIGHT_FILE_HINT = /\.(bin|pt|pth|gguf|ckpt|safetensors)$/;

/** The tensors a Gemma-2 model uses, in the order of the model card, by transformers name. */
export function gemma2TensorShapes(config: Gemma2Config): Map<string, number[]> {
  const { hiddenSize: d, intermediateSize: m, numAttentionHeads: heads, numKeyValueHeads: kvHeads, headDim } = config;
  const shapes = new Map<string, number[]>([['model.embed_tokens.weight', [config.vocabSize, d]]]);
  for (let i = 0; i < config.numHiddenLayers; i++) {
    const layer = `model.layers.${i}`;
    shapes.set(`${layer}.input_layernorm.weight`, [d]);
    shapes.set(`${layer}.self_attn.q_proj.weight`, [heads * headDim, d]);
    shapes.set(`${layer}.self_attn.k_proj.weight`, [kvHeads * headDim, d]);
    shapes.set(`${layer}.self_attn.v_proj.weight`, [kvHeads * headDim, d]);
    shapes.set(`${layer}.self_attn.o_proj.weight`, [d, heads * headDim]);
    shapes.set(`${layer}.post_attention_layernorm.weight`, [d]);
    shapes.set(`${layer}.pre_feedforward_layernorm.weight`, [d]);
    shapes.set(`${layer}.mlp.gate_proj.weight`, [m, d]);
    shapes.set(`${layer}.mlp.up_proj.weight`, [m, d]);
    shapes.set(`${layer}.mlp.down_proj.weight`, [d, m]);
    shapes.set(`${layer}.post_feedforward_layernorm.weight`, [d]);
  }
  shapes.set('model.norm.weight', [d]);
  return shapes;
}

export async function openModelFolder(dir: string): Promise<ModelFolder> {
  return (await readModelFolder(dir)).folder;
}

export async function inspectModelFolder(dir: string): Promise<ModelSummary> {
  const { folder, architecture } = await readModelFolder(dir);
  const used = [...gemma2TensorShapes(folder.config).keys()].map((name) => folder.tensors.get(name) as TensorLocation);
  return {
    dir: folder.dir,
    architecture,
    hiddenSize: folder.config.hiddenSize,
    numHiddenLayers: folder.config.numHiddenLayers,
    vocabSize: folder.config.vocabSize,
    parameterCount: used.reduce((sum, t) => sum + t.shape.reduce((a, b) => a * b, 1), 0),
    dtypes: [...new Set<SafetensorsDtype>(used.map((t) => t.dtype))].sort(),
    sizeOnDiskBytes: folder.weightBytes,
    defaultHookLayer: defaultHookLayer(folder.config),
    fingerprint: folder.fingerprint,
  };
}

async function readModelFolder(dir: string): Promise<{ folder: ModelFolder; architecture: string }> {
  const root = path.resolve(dir);
  const entries = await listFolder(root);
  const weightsFile = entries.has(WEIGHTS_FILE) ? WEIGHTS_FILE : entries.has(WEIGHTS_INDEX_FILE) ? WEIGHTS_INDEX_FILE : undefined;
  const missing = [CONFIG_FILE, TOKENIZER_FILE, TOKENIZER_CONFIG_FILE].filter((f) => !entries.has(f));
  if (!weightsFile) missing.push(`the weights (${WEIGHTS_FILE}, or ${WEIGHTS_INDEX_FILE} with its shards)`);
  if (missing.length > 0) {
    const others = [...entries].filter((f) => WEIGHT_FILE_HINT.test(f));
    const hint = !weightsFile && others.length > 0 ? `; found ${others.join(', ')}, but only Hugging Face safetensors weights are read` : '';
    throw new InputError(`${root} is not a complete Gemma-2 model folder: missing ${missing.join(', ')}${hint}`);
  }

  const { raw: rawConfig, config } = await readModelConfig(root);
  const { headers, tensors } = weightsFile === WEIGHTS_FILE ? await readSingleWeights(root) : await readShardedWeights(root);
  checkTensors(config, tensors, path.join(root, weightsFile as string));

  const folder: ModelFolder = {
    dir: root,
    config,
    tensors,
    weightBytes: headers.reduce((sum, h) => sum + h.fileSize, 0),
    fingerprint: await fingerprint(config, tensors, headers),
  };
  const architectures = (rawConfig as { architectures?: unknown }).architectures;
  const architecture = Array.isArray(architectures) && typeof architectures[0] === 'string' ? architectures[0] : 'Gemma2ForCausalLM';
  // It is printed as it is (microsteer info, notifications): no terminal escape codes from a file.
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f-\u009f]/.test(architecture)) throw new InputError(`${path.join(root, CONFIG_FILE)}: architectures[0] holds control characters`);
  return { folder, architecture };
}

/** config.json of the folder `root` (an absolute path), parsed and validated. */
export async function readModelConfig(root: string): Promise<{ raw: unknown; config: Gemma2Config }> {
  const file = path.join(root, CONFIG_FILE);
  const raw = await readJson(file);
  return { raw, config: parseGemma2Config(raw, file) };
}

async function listFolder(root: string): Promise<Set<string>> {
  let info;
  try {
    info = await stat(root);
  } catch {
    throw new InputError(`model folder ${root} does not exist`);
  }
  if (!info.isDirectory()) throw new InputError(`${root} is not a folder (expected a model folder with ${CONFIG_FILE}, weights and ${TOKENIZER_FILE})`);
  try {
    return new Set(await readdir(root));
  } catch (e) {
    throw new InputError(`cannot list model folder ${root}: ${(e as Error).message}`);
  }
}

async function readJson(file: string): Promise<unknown> {
  let text: string;
  try {
    text = (await readBoundedFile(file)).toString('utf8');
  } catch (e) {
    if (e instanceof InputError) throw e;
    throw new InputError(`cannot read ${file}: ${(e as Error).message}`);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new InputError(`${file} is not valid JSON: ${(e as Error).message}`);
  }
}

/** The index's weight_map, validated: tensor name -> shard file name inside the folder. */
async function readWeightMap(root: string): Promise<Map<string, string>> {
  const indexPath = path.join(root, WEIGHTS_INDEX_FILE);
  const index = await readJson(indexPath);
  const weightMap = (index as { weight_map?: unknown } | null)?.weight_map;
  if (typeof weightMap !== 'object' || weightMap === null || Array.isArray(weightMap)) {
    throw new InputError(`${indexPath}: expected an object with a "weight_map" of tensor name -> shard file`);
  }
  const map = new Map<string, string>();
  for (const [tensor, shard] of Object.entries(weightMap)) {
    // Shards must lie in the folder itself: compiled graphs point into them by relative name.
    if (typeof shard !== 'string' || shard === '' || path.basename(shard) !== shard || shard === '.' || shard === '..') {
      throw new InputError(`${indexPath}: weight_map["${tensor}"] must be a file name in the model folder, got ${JSON.stringify(shard)}`);
    }
    map.set(tensor, shard);
  }
  if (map.size === 0) throw new InputError(`${indexPath}: weight_map is empty`);
  return map;
}

interface Weights {
  headers: SafetensorsHeader[];
  tensors: Map<string, TensorLocation>;
}

async function readSingleWeights(root: string): Promise<Weights> {
  const header = await readSafetensorsHeader(path.join(root, WEIGHTS_FILE));
  return { headers: [header], tensors: new Map(header.tensors.map((t) => [t.name, t])) };
}

/** Every shard the index names exists, and each tensor is where the index says. */
async function readShardedWeights(root: string): Promise<Weights> {
  const indexPath = path.join(root, WEIGHTS_INDEX_FILE);
  const weightMap = await readWeightMap(root);
  const shards = [...new Set(weightMap.values())].sort();
  for (const shard of shards) {
    const info = await stat(path.join(root, shard)).catch(() => undefined);
    if (!info?.isFile()) throw new InputError(`${indexPath} lists shard ${shard}, which is missing from ${root}`);
  }
  const headers = await Promise.all(shards.map((shard) => readSafetensorsHeader(path.join(root, shard))));
  const byShard = new Map(headers.map((h) => [path.basename(h.file), new Map(h.tensors.map((t) => [t.name, t]))]));
  const tensors = new Map<string, TensorLocation>();
  for (const [name, shard] of weightMap) {
    const location = byShard.get(shard)?.get(name);
    if (!location) throw new InputError(`${indexPath} places tensor "${name}" in ${shard}, but ${shard} does not contain it`);
    tensors.set(name, location);
  }
  return { headers, tensors };
}

/** Every tensor the model uses is present with the shape the config implies. An extra lm_head is ignored (tied). */
function checkTensors(config: Gemma2Config, tensors: Map<string, TensorLocation>, where: string): void {
  const missing: string[] = [];
  for (const [name, shape] of gemma2TensorShapes(config)) {
    const location = tensors.get(name);
    if (!location) {
      missing.push(`"${name}" [${shape.join(', ')}]`);
    } else if (location.shape.join(',') !== shape.join(',')) {
      throw new InputError(
        `tensor "${name}" in ${location.file} has shape [${location.shape.join(', ')}], but config.json implies [${shape.join(', ')}]`,
      );
    }
  }
  if (missing.length > 0) {
    const unprefixed = tensors.has('embed_tokens.weight') ? ' (names lack the "model." prefix: expected a Gemma2ForCausalLM checkpoint)' : '';
    const more = missing.length > 3 ? ` and ${missing.length - 3} more` : '';
    throw new InputError(`${where} lacks tensor ${missing.slice(0, 3).join(', ')}${more}${unprefixed}`);
  }
}

/**
 * Identity of the model for caches and planes: the parsed config, the tensor table, and per weight file its
 * size and a sample of its bytes (so that two models of one architecture but different weights differ,
 * while a copied folder keeps its fingerprint).
 */
async function fingerprint(config: Gemma2Config, tensors: Map<string, TensorLocation>, headers: SafetensorsHeader[]): Promise<string> {
  const hash = createHash('sha256');
  hash.update(`microsteer-model-v1\n${JSON.stringify(config)}\n`);
  for (const t of [...tensors.values()].sort((a, b) => (a.name < b.name ? -1 : 1))) {
    hash.update(`${t.name} ${t.dtype} [${t.shape.join(',')}] ${path.basename(t.file)} ${t.offset} ${t.byteLength}\n`);
  }
  for (const h of headers) {
    hash.update(`${path.basename(h.file)} ${h.fileSize}\n`);
    await hashSamples(hash, h);
  }
  return hash.digest('hex');
}

const SAMPLES = 16;
const SAMPLE_BYTES = 4096;

async function hashSamples(hash: Hash, header: SafetensorsHeader): Promise<void> {
  const start = 8 + header.headerLength;
  const span = header.fileSize - start;
  const handle = await open(header.file, 'r');
  try {
    for (let i = 0; i <= SAMPLES; i++) {
      const at = start + Math.floor(((span - Math.min(span, SAMPLE_BYTES)) * i) / SAMPLES);
      hash.update(await readExactly(handle, at, Math.min(span, SAMPLE_BYTES), header.file));
    }
  } finally {
    await handle.close();
  }
}
