/**
 * Opening model folders: a small hand-made Gemma-2 (tensor names written out here, as transformers spells
 * them), each way a folder can be incomplete or inconsistent, sharded weights, the fingerprint, and the
 * tiny model single vs sharded.
 */
import { test } from 'node:test';
import { testTempDir } from '../../fixtures/tempDir';
import assert from 'node:assert/strict';
import { cpSync, mkdirSync, readFileSync, rmSync, writeFileSync, renameSync } from 'node:fs';
import * as path from 'node:path';
import { InputError } from '../../../src/engine/errors';
import { inspectModelFolder, openModelFolder } from '../../../src/engine/model/modelFolder';
import { encodeSafetensorsHeader } from '../../../src/engine/model/safetensors';
import { readTensor } from '../../../src/engine/model/tensorData';
import type { SafetensorsDtype } from '../../../src/engine/model/types';
import { ensureTinyModel } from '../../fixtures/tinyModel';

const base = testTempDir('folder');

// vocab 10, hidden 4, intermediate 6, 2 layers, 2 heads of 2 dims, 1 KV head
const CONFIG = {
  architectures: ['Gemma2ForCausalLM'],
  model_type: 'gemma2',
  vocab_size: 10,
  hidden_size: 4,
  intermediate_size: 6,
  num_hidden_layers: 2,
  num_attention_heads: 2,
  num_key_value_heads: 1,
  head_dim: 2,
};

type Tensor = [name: string, shape: number[]];

function smallModelTensors(): Tensor[] {
  const tensors: Tensor[] = [['model.embed_tokens.weight', [10, 4]]];
  for (const i of [0, 1]) {
    tensors.push(
      [`model.layers.${i}.self_attn.q_proj.weight`, [4, 4]],
      [`model.layers.${i}.self_attn.k_proj.weight`, [2, 4]],
      [`model.layers.${i}.self_attn.v_proj.weight`, [2, 4]],
      [`model.layers.${i}.self_attn.o_proj.weight`, [4, 4]],
      [`model.layers.${i}.mlp.gate_proj.weight`, [6, 4]],
      [`model.layers.${i}.mlp.up_proj.weight`, [6, 4]],
      [`model.layers.${i}.mlp.down_proj.weight`, [4, 6]],
      [`model.layers.${i}.input_layernorm.weight`, [4]],
      [`model.layers.${i}.post_attention_layernorm.weight`, [4]],
      [`model.layers.${i}.pre_feedforward_layernorm.weight`, [4]],
      [`model.layers.${i}.post_feedforward_layernorm.weight`, [4]],
    );
  }
  tensors.push(['model.norm.weight', [4]]);
  return tensors;
}
const PARAMETERS = smallModelTensors().reduce((sum, [, shape]) => sum + shape.reduce((a, b) => a * b, 1), 0);

/** Writes `tensors` as one safetensors file; the data bytes count up so that every file differs from a zeroed one. */
function writeWeights(file: string, tensors: Tensor[], dtype: SafetensorsDtype = 'BF16'): void {
  const header = encodeSafetensorsHeader(tensors.map(([name, shape]) => ({ name, dtype, shape })));
  const bytes = tensors.reduce((sum, [, shape]) => sum + shape.reduce((a, b) => a * b, 1), 0) * (dtype === 'F32' ? 4 : 2);
  writeFileSync(file, Buffer.concat([header, Buffer.from(Array.from({ length: bytes }, (_, i) => i % 251))]));
}

let folders = 0;
/** A complete folder of the small model; `change` edits it before use. */
function smallModel(change: (dir: string) => void = () => {}, tensors = smallModelTensors(), config: object = CONFIG): string {
  const dir = path.join(base, `model-${folders++}`);
  mkdirSync(dir);
  writeFileSync(path.join(dir, 'config.json'), JSON.stringify(config));
  writeFileSync(path.join(dir, 'tokenizer.json'), '{}');
  writeFileSync(path.join(dir, 'tokenizer_config.json'), '{}');
  writeWeights(path.join(dir, 'model.safetensors'), tensors);
  change(dir);
  return dir;
}
writeFileSync(path.join(base, 'placeholder'), '');

async function rejects(dir: string, ...patterns: RegExp[]): Promise<string> {
  let message = '';
  await assert.rejects(openModelFolder(dir), (e: unknown) => {
    assert.ok(e instanceof InputError, `expected an InputError, got ${String(e)}`);
    for (const p of patterns) assert.match(e.message, p);
    message = e.message;
    return true;
  });
  return message;
}

test('a complete folder opens with every tensor, the config and the weight size', async () => {
  const dir = smallModel();
  const relative = path.relative(process.cwd(), dir);
  const folder = await openModelFolder(relative);
  assert.equal(folder.dir, dir, 'the folder is made absolute');
  assert.equal(folder.config.hiddenSize, 4);
  assert.equal(folder.tensors.size, 24);
  const q = folder.tensors.get('model.layers.1.self_attn.q_proj.weight');
  assert.deepEqual(q && [q.dtype, q.shape, q.file], ['BF16', [4, 4], path.join(dir, 'model.safetensors')]);
  assert.equal(folder.weightBytes, readFileSync(path.join(dir, 'model.safetensors')).length);
  assert.match(folder.fingerprint, /^[0-9a-f]{64}$/);
});

test('inspectModelFolder summarises the folder', async () => {
  const dir = smallModel();
  const summary = await inspectModelFolder(dir);
  assert.deepEqual(summary, {
    dir,
    architecture: 'Gemma2ForCausalLM',
    hiddenSize: 4,
    numHiddenLayers: 2,
    vocabSize: 10,
    parameterCount: PARAMETERS,
    dtypes: ['BF16'],
    sizeOnDiskBytes: readFileSync(path.join(dir, 'model.safetensors')).length,
    defaultHookLayer: 1,
    fingerprint: (await openModelFolder(dir)).fingerprint,
  });
});

test('a missing or non-folder path is named', async () => {
  await rejects(path.join(base, 'no-such-folder'), /no-such-folder does not exist/);
  await rejects(path.join(base, 'placeholder'), /is not a folder/);
});

test('every missing file is named in one message', async () => {
  const message = await rejects(
    smallModel((dir) => {
      rmSync(path.join(dir, 'config.json'));
      rmSync(path.join(dir, 'tokenizer.json'));
      rmSync(path.join(dir, 'model.safetensors'));
    }),
    /not a complete Gemma-2 model folder/,
  );
  for (const name of ['config.json', 'tokenizer.json', 'model.safetensors', 'model.safetensors.index.json']) assert.ok(message.includes(name), name);
  assert.ok(!message.includes('tokenizer_config.json'), 'present files are not listed');
  await rejects(
    smallModel((dir) => rmSync(path.join(dir, 'tokenizer_config.json'))),
    /missing tokenizer_config\.json$/,
  );
});

test('weights in another format get a hint', async () => {
  await rejects(
    smallModel((dir) => renameSync(path.join(dir, 'model.safetensors'), path.join(dir, 'pytorch_model.bin'))),
    /found pytorch_model\.bin, but only Hugging Face safetensors weights are read/,
  );
});

test('a bad config.json is named', async () => {
  await rejects(smallModel((dir) => writeFileSync(path.join(dir, 'config.json'), '{"model_type": ')), /config\.json is not valid JSON/);
  await rejects(smallModel(() => {}, smallModelTensors(), { ...CONFIG, model_type: 'llama' }), /config\.json: model_type is "llama"/);
});

test('a missing tensor is named with its expected shape', async () => {
  const tensors = smallModelTensors().filter(([name]) => name !== 'model.layers.1.mlp.up_proj.weight');
  await rejects(smallModel(() => {}, tensors), /model\.safetensors lacks tensor "model\.layers\.1\.mlp\.up_proj\.weight" \[6, 4\]/);
  const many = smallModelTensors().filter(([name]) => !name.includes('layers.1.'));
  await rejects(smallModel(() => {}, many), /and 8 more/);
});

test('tensors without the "model." prefix get a hint', async () => {
  const tensors = smallModelTensors().map(([name, shape]): Tensor => [name.replace(/^model\./, ''), shape]);
  await rejects(smallModel(() => {}, tensors), /lack the "model\." prefix/);
});

test('a tensor of the wrong shape is named with both shapes', async () => {
  const tensors = smallModelTensors().map(([name, shape]): Tensor => [name, name === 'model.layers.0.self_attn.k_proj.weight' ? [4, 4] : shape]);
  await rejects(smallModel(() => {}, tensors), /"model\.layers\.0\.self_attn\.k_proj\.weight" .* has shape \[4, 4\], but config\.json implies \[2, 4\]/);
  const wide = smallModelTensors().map(([name, shape]): Tensor => [name, name === 'model.embed_tokens.weight' ? [12, 4] : shape]);
  await rejects(smallModel(() => {}, wide), /embed_tokens.*\[12, 4\].*\[10, 4\]/);
});

test('an lm_head tensor is tolerated (the head is tied)', async () => {
  const folder = await openModelFolder(smallModel(() => {}, [...smallModelTensors(), ['lm_head.weight', [10, 4]]]));
  assert.ok(folder.tensors.has('lm_head.weight'));
});

/** The small model split over two shards with an index. */
function sharded(index?: (weightMap: Record<string, string>) => unknown): string {
  return smallModel((dir) => {
    rmSync(path.join(dir, 'model.safetensors'));
    const tensors = smallModelTensors();
    const first = tensors.slice(0, 10);
    const second = tensors.slice(10);
    writeWeights(path.join(dir, 'model-00001-of-00002.safetensors'), first);
    writeWeights(path.join(dir, 'model-00002-of-00002.safetensors'), second, 'F32');
    const weightMap: Record<string, string> = {};
    for (const [name] of first) weightMap[name] = 'model-00001-of-00002.safetensors';
    for (const [name] of second) weightMap[name] = 'model-00002-of-00002.safetensors';
    writeFileSync(path.join(dir, 'model.safetensors.index.json'), JSON.stringify(index ? index(weightMap) : { metadata: {}, weight_map: weightMap }));
  });
}

test('sharded weights are found where the index says', async () => {
  const dir = sharded();
  const folder = await openModelFolder(dir);
  assert.equal(folder.tensors.size, 24);
  assert.equal(folder.tensors.get('model.embed_tokens.weight')?.file, path.join(dir, 'model-00001-of-00002.safetensors'));
  assert.equal(folder.tensors.get('model.norm.weight')?.file, path.join(dir, 'model-00002-of-00002.safetensors'));
  const sizes = ['model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors'].map((f) => readFileSync(path.join(dir, f)).length);
  assert.equal(folder.weightBytes, sizes[0] + sizes[1]);
  assert.deepEqual((await inspectModelFolder(dir)).dtypes, ['BF16', 'F32']);
});

test('a broken index is named: missing shard, tensor not in its shard, bad entries', async () => {
  await rejects(
    sharded((map) => ({ weight_map: { ...map, 'model.norm.weight': 'model-00003-of-00003.safetensors' } })),
    /lists shard model-00003-of-00003\.safetensors, which is missing/,
  );
  await rejects(
    sharded((map) => ({ weight_map: { ...map, 'model.norm.weight': 'model-00001-of-00002.safetensors' } })),
    /places tensor "model\.norm\.weight" in model-00001-of-00002\.safetensors, but .* does not contain it/,
  );
  await rejects(
    sharded((map) => ({ weight_map: { ...map, 'model.norm.weight': '../elsewhere.safetensors' } })),
    /weight_map\["model\.norm\.weight"\] must be a file name in the model folder/,
  );
  await rejects(sharded(() => ({ weight_map: {} })), /weight_map is empty/);
  await rejects(sharded(() => [1]), /"weight_map"/);
  await rejects(
    sharded((map) => {
      delete map['model.layers.0.mlp.gate_proj.weight'];
      return { weight_map: map };
    }),
    /model\.safetensors\.index\.json lacks tensor "model\.layers\.0\.mlp\.gate_proj\.weight"/,
  );
});

test('a damaged shard is named', async () => {
  const dir = sharded();
  writeFileSync(path.join(dir, 'model-00002-of-00002.safetensors'), Buffer.alloc(4));
  await rejects(dir, /model-00002-of-00002\.safetensors: truncated/);
});

test('the fingerprint follows the model, not the folder', async () => {
  const dir = smallModel();
  const { fingerprint } = await openModelFolder(dir);
  assert.equal((await openModelFolder(dir)).fingerprint, fingerprint, 'stable');
  const copy = path.join(base, 'copied');
  cpSync(dir, copy, { recursive: true });
  assert.equal((await openModelFolder(copy)).fingerprint, fingerprint, 'a copy keeps it');

  const weights = path.join(copy, 'model.safetensors');
  const bytes = readFileSync(weights);
  bytes[bytes.length - 3] ^= 1; // one weight bit, same size
  writeFileSync(weights, bytes);
  assert.notEqual((await openModelFolder(copy)).fingerprint, fingerprint, 'weights changed');

  const configChanged = smallModel(() => {}, smallModelTensors(), { ...CONFIG, rope_theta: 20000 });
  assert.notEqual((await openModelFolder(configChanged)).fingerprint, fingerprint, 'config changed');
});

test('the tiny model reads the same single and sharded', async () => {
  const options = { layers: 2, hidden: 8, heads: 2, kvHeads: 1, headDim: 4, intermediate: 16 };
  const single = await openModelFolder(await ensureTinyModel(options));
  const shardedDir = await ensureTinyModel({ ...options, shards: 3 });
  const shards = await openModelFolder(shardedDir);
  assert.equal(new Set([...shards.tensors.values()].map((t) => t.file)).size, 3);
  assert.deepEqual([...shards.tensors.keys()].sort(), [...single.tensors.keys()].sort());
  for (const name of ['model.embed_tokens.weight', 'model.layers.1.mlp.down_proj.weight', 'model.norm.weight']) {
    const [a, b] = await Promise.all([readTensor(single.tensors.get(name)!), readTensor(shards.tensors.get(name)!)]);
    assert.deepEqual(b, a, name);
  }
});
