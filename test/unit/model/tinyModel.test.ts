/**
 * The tiny model writer: determinism, the Hugging Face layout and config, the documented initialisation,
 * dtypes, shards, and the options it refuses.
 */
import { test } from 'node:test';
import { testTempDir } from '../../fixtures/tempDir';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { InputError } from '../../../src/engine/errors';
import { openModelFolder } from '../../../src/engine/model/modelFolder';
import { readTensor } from '../../../src/engine/model/tensorData';
import { writeTinyModel } from '../../../src/engine/model/tinyModel';
import { ensureTinyModel } from '../../fixtures/tinyModel';

const base = testTempDir('tiny');
/** Narrow, so that writing it several times stays fast (the vocabulary is fixed by the tokenizer). */
const NARROW = { layers: 2, hidden: 8, heads: 2, kvHeads: 1, headDim: 4, intermediate: 16 };

function digests(dir: string): Record<string, string> {
  return Object.fromEntries(readdirSync(dir).sort().map((f) => [f, createHash('sha256').update(readFileSync(path.join(dir, f))).digest('hex')]));
}

let outs = 0;
const fresh = () => path.join(base, `out-${outs++}`);

test('same seed and options give byte-identical files; another seed other weights', async () => {
  const [a, b, c] = [fresh(), fresh(), fresh()];
  await writeTinyModel({ ...NARROW, seed: 7, out: a });
  await writeTinyModel({ ...NARROW, seed: 7, out: b });
  await writeTinyModel({ ...NARROW, seed: 8, out: c });
  assert.deepEqual(Object.keys(digests(a)), ['config.json', 'generation_config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json']);
  assert.deepEqual(digests(b), digests(a));
  const [da, dc] = [digests(a), digests(c)];
  assert.notEqual(dc['model.safetensors'], da['model.safetensors']);
  assert.equal(dc['config.json'], da['config.json']);
  assert.notEqual((await openModelFolder(c)).fingerprint, (await openModelFolder(a)).fingerprint);
});

test('config.json is what transformers expects of a Gemma2ForCausalLM, with the tokenizer ids', async () => {
  const dir = await ensureTinyModel();
  const text = readFileSync(path.join(dir, 'config.json'), 'utf8');
  const config = JSON.parse(text);
  assert.deepEqual(config.architectures, ['Gemma2ForCausalLM']);
  assert.equal(config.model_type, 'gemma2');
  assert.deepEqual(Object.keys(config), Object.keys(config).sort(), 'sorted keys, as transformers writes them');
  for (const [key, value] of Object.entries({
    num_hidden_layers: 4,
    hidden_size: 64,
    num_attention_heads: 4,
    num_key_value_heads: 2,
    head_dim: 16,
    query_pre_attn_scalar: 16,
    sliding_window: 8,
    hidden_activation: 'gelu_pytorch_tanh',
    tie_word_embeddings: true,
  })) {
    assert.equal(config[key], value, key);
  }
  assert.deepEqual(config.layer_types, ['sliding_attention', 'full_attention', 'sliding_attention', 'full_attention']);
  // Python must read typed float fields as floats
  assert.match(text, /"attn_logit_softcapping": 50\.0,/);
  assert.match(text, /"final_logit_softcapping": 30\.0,/);
  assert.match(text, /"rope_theta": 10000\.0,/);

  const tokenizer = JSON.parse(readFileSync(path.join(dir, 'tokenizer.json'), 'utf8'));
  const ids = new Map<string, number>(Object.entries(tokenizer.model.vocab));
  for (const t of tokenizer.added_tokens) ids.set(t.content, t.id);
  assert.equal(config.vocab_size, [...ids.values()].reduce((a, b) => Math.max(a, b)) + 1, 'every token id fits the embedding');
  assert.equal(config.bos_token_id, ids.get('<bos>'));
  assert.equal(config.pad_token_id, ids.get('<pad>'));
  assert.deepEqual(config.eos_token_id, [ids.get('<eos>'), ids.get('<end_of_turn>')]);
  const generation = JSON.parse(readFileSync(path.join(dir, 'generation_config.json'), 'utf8'));
  assert.deepEqual(generation.eos_token_id, config.eos_token_id);
});

/** Mean and standard deviation. */
function moments(values: Float32Array): [number, number] {
  let sum = 0;
  for (const v of values) sum += v;
  const mean = sum / values.length;
  let square = 0;
  for (const v of values) square += (v - mean) ** 2;
  return [mean, Math.sqrt(square / values.length)];
}

test('weights follow the documented initialisation', async () => {
  const folder = await openModelFolder(await ensureTinyModel());
  const check = async (name: string, std: number, tolerance: number) => {
    const [mean, sd] = moments(await readTensor(folder.tensors.get(name)!));
    assert.ok(Math.abs(sd - std) <= tolerance * std, `${name}: std ${sd}, expected ${std} within ${tolerance * 100}%`);
    assert.ok(Math.abs(mean) <= 4 * std / Math.sqrt(folder.tensors.get(name)!.byteLength / 4), `${name}: mean ${mean}`);
  };
  // tolerances: several standard errors of a sample standard deviation (about std / sqrt(2n))
  await check('model.embed_tokens.weight', 0.25, 0.01);
  await check('model.layers.0.self_attn.q_proj.weight', 1 / 8, 0.1);
  await check('model.layers.3.mlp.down_proj.weight', 1 / Math.sqrt(128), 0.1);
  const norms = new Float32Array(
    [...folder.tensors.keys()].filter((n) => n.endsWith('norm.weight')).length * 64,
  );
  let at = 0;
  for (const [name, location] of folder.tensors) if (name.endsWith('norm.weight')) norms.set(await readTensor(location), (at++) * 64);
  const [mean, sd] = moments(norms);
  assert.ok(Math.abs(sd - 0.1) < 0.02, `norm weights std ${sd}`);
  assert.ok(Math.abs(mean) < 0.02, `norm weights mean ${mean}`);
});

test('bf16 and f16 models hold the f32 model rounded to their format', async () => {
  const f32 = await openModelFolder(await ensureTinyModel(NARROW));
  for (const [dtype, relative] of [['bf16', 2 ** -8], ['f16', 2 ** -11]] as const) {
    const folder = await openModelFolder(await ensureTinyModel({ ...NARROW, dtype }));
    for (const name of ['model.embed_tokens.weight', 'model.layers.1.self_attn.o_proj.weight', 'model.norm.weight']) {
      const location = folder.tensors.get(name)!;
      assert.equal(location.dtype, dtype.toUpperCase());
      const [exact, rounded] = await Promise.all([readTensor(f32.tensors.get(name)!), readTensor(location)]);
      for (let i = 0; i < exact.length; i++) {
        // half an ulp relative, or half of f16's smallest subnormal step near zero
        const bound = Math.max(relative * Math.abs(exact[i]), 2 ** -25);
        if (Math.abs(rounded[i] - exact[i]) > bound) assert.fail(`${dtype} ${name}[${i}]: ${rounded[i]} vs ${exact[i]}`);
      }
    }
  }
});

test('shards: numbered files and an index covering every tensor', async () => {
  const dir = await ensureTinyModel({ ...NARROW, shards: 3 });
  const names = readdirSync(dir).filter((f) => f.endsWith('.safetensors')).sort();
  assert.deepEqual(names, ['model-00001-of-00003.safetensors', 'model-00002-of-00003.safetensors', 'model-00003-of-00003.safetensors']);
  const index = JSON.parse(readFileSync(path.join(dir, 'model.safetensors.index.json'), 'utf8'));
  const folder = await openModelFolder(dir);
  assert.equal(Object.keys(index.weight_map).length, folder.tensors.size);
  const total = [...folder.tensors.values()].reduce((sum, t) => sum + t.byteLength, 0);
  assert.equal(index.metadata.total_size, total);
});

test('a non-empty folder is refused unless forced; forcing replaces the old weight layout', async () => {
  const dir = fresh();
  await writeTinyModel({ ...NARROW, out: dir, shards: 2 });
  await assert.rejects(writeTinyModel({ ...NARROW, out: dir }), (e: unknown) => e instanceof InputError && /not empty/.test(e.message));
  writeFileSync(path.join(dir, 'notes.txt'), 'mine');
  await writeTinyModel({ ...NARROW, out: dir, force: true });
  assert.ok(!existsSync(path.join(dir, 'model.safetensors.index.json')));
  assert.ok(!existsSync(path.join(dir, 'model-00001-of-00002.safetensors')));
  assert.ok(existsSync(path.join(dir, 'notes.txt')), 'other files are left alone');
  assert.equal((await openModelFolder(dir)).tensors.size, 2 + 2 * 11);
});

test('issue 11, class 3: forcing over a folder with links planted at the files it writes does not write through them', async () => {
  const dir = fresh();
  await writeTinyModel({ ...NARROW, out: dir });
  const victim = path.join(base, 'victim.txt');
  writeFileSync(victim, 'precious');
  for (const f of ['config.json', 'tokenizer.json', 'model.safetensors']) {
    rmSync(path.join(dir, f));
    symlinkSync(victim, path.join(dir, f));
  }
  await writeTinyModel({ ...NARROW, out: dir, force: true });
  assert.equal(readFileSync(victim, 'utf8'), 'precious');
  assert.equal((await openModelFolder(dir)).tensors.size, 2 + 2 * 11);
});

test('impossible options are refused by name', async () => {
  const refuses = (options: object, pattern: RegExp) =>
    assert.rejects(writeTinyModel({ ...NARROW, out: fresh(), ...options }), (e: unknown) => e instanceof InputError && pattern.test(e.message));
  await refuses({ heads: 3, kvHeads: 2 }, /heads \(3\) must be a multiple of kvHeads \(2\)/);
  await refuses({ headDim: 5 }, /headDim must be even/);
  await refuses({ layers: 0 }, /layers must be a positive integer/);
  await refuses({ seed: -1 }, /seed/);
  await refuses({ dtype: 'f64' }, /dtype/);
  await refuses({ shards: 100 }, /shards \(100\) must not exceed its 24 tensors/);
});
