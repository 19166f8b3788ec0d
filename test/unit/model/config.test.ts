/** config.json validation, and the defaults of transformers' Gemma2Config where keys are absent. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InputError } from '../../../src/engine/errors';
import { defaultHookLayer, parseGemma2Config } from '../../../src/engine/model/config';

const FILE = '/models/x/config.json';

/** The six sizes a config must state. */
const minimal = {
  model_type: 'gemma2',
  vocab_size: 1000,
  hidden_size: 64,
  intermediate_size: 128,
  num_hidden_layers: 5,
  num_attention_heads: 4,
  num_key_value_heads: 2,
};

/** google/gemma-2-27b's published config.json (the keys the engine reads). */
const gemma2_27b = {
  architectures: ['Gemma2ForCausalLM'],
  attention_bias: false,
  attn_logit_softcapping: 50.0,
  bos_token_id: 2,
  cache_implementation: 'hybrid',
  eos_token_id: 1,
  final_logit_softcapping: 30.0,
  head_dim: 128,
  hidden_act: 'gelu_pytorch_tanh',
  hidden_activation: 'gelu_pytorch_tanh',
  hidden_size: 4608,
  intermediate_size: 36864,
  max_position_embeddings: 8192,
  model_type: 'gemma2',
  num_attention_heads: 32,
  num_hidden_layers: 46,
  num_key_value_heads: 16,
  pad_token_id: 0,
  query_pre_attn_scalar: 144,
  rms_norm_eps: 1e-6,
  rope_theta: 10000.0,
  sliding_window: 4096,
  torch_dtype: 'bfloat16',
  vocab_size: 256000,
};

function rejects(json: unknown, ...patterns: RegExp[]): void {
  assert.throws(
    () => parseGemma2Config(json, FILE),
    (e: unknown) => {
      assert.ok(e instanceof InputError, `expected an InputError, got ${String(e)}`);
      assert.ok(e.message.startsWith(FILE), `names the file: ${e.message}`);
      for (const p of patterns) assert.match(e.message, p);
      return true;
    },
  );
}

test('absent keys take the defaults of transformers Gemma2Config', () => {
  const c = parseGemma2Config(minimal, FILE);
  assert.deepEqual(c, {
    modelType: 'gemma2',
    vocabSize: 1000,
    hiddenSize: 64,
    intermediateSize: 128,
    numHiddenLayers: 5,
    numAttentionHeads: 4,
    numKeyValueHeads: 2,
    headDim: 256,
    maxPositionEmbeddings: 8192,
    rmsNormEps: 1e-6,
    ropeTheta: 10000,
    queryPreAttnScalar: 256,
    slidingWindow: 4096,
    attnLogitSoftcapping: 50,
    finalLogitSoftcapping: 30,
    slidingLayers: [true, false, true, false, true],
    hiddenActivation: 'gelu_pytorch_tanh',
    bosTokenId: 2,
    eosTokenId: [1],
    padTokenId: 0,
  });
});

test("a published config (gemma-2-27b) is read as stated: head_dim 128, query_pre_attn_scalar 144", () => {
  const c = parseGemma2Config(gemma2_27b, FILE);
  assert.equal(c.headDim, 128);
  assert.equal(c.queryPreAttnScalar, 144);
  assert.equal(c.numHiddenLayers, 46);
  assert.equal(c.slidingLayers.filter(Boolean).length, 23);
  assert.equal(c.slidingLayers[0], true);
  assert.equal(c.slidingLayers[45], false);
  assert.deepEqual(c.eosTokenId, [1]);
});

test('layer_types, when present, decides which layers slide', () => {
  const types = ['full_attention', 'full_attention', 'sliding_attention', 'full_attention', 'sliding_attention'];
  assert.deepEqual(parseGemma2Config({ ...minimal, layer_types: types }, FILE).slidingLayers, [false, false, true, false, true]);
  rejects({ ...minimal, layer_types: types.slice(1) }, /layer_types/, /5 entries/);
  rejects({ ...minimal, layer_types: [...types.slice(1), 'chunked_attention'] }, /layer_types\[4\]/, /chunked_attention/);
});

test('sliding_window null turns every layer into full attention', () => {
  const c = parseGemma2Config({ ...minimal, sliding_window: null }, FILE);
  assert.deepEqual(c.slidingLayers, [false, false, false, false, false]);
});

test('eos_token_id may be one id or a list; soft-caps may be null', () => {
  const c = parseGemma2Config({ ...minimal, eos_token_id: [1, 107], attn_logit_softcapping: null, final_logit_softcapping: null }, FILE);
  assert.deepEqual(c.eosTokenId, [1, 107]);
  assert.equal(c.attnLogitSoftcapping, null);
  assert.equal(c.finalLogitSoftcapping, null);
  assert.deepEqual(parseGemma2Config({ ...minimal, eos_token_id: 7 }, FILE).eosTokenId, [7]);
  rejects({ ...minimal, eos_token_id: [] }, /eos_token_id/);
  rejects({ ...minimal, eos_token_id: ['1'] }, /eos_token_id/);
  rejects({ ...minimal, eos_token_id: 5000 }, /eos_token_id 5000/, /vocab_size 1000/);
});

test('rope_theta is read from rope_parameters (newer transformers) or the top level', () => {
  assert.equal(parseGemma2Config({ ...minimal, rope_theta: 5e5 }, FILE).ropeTheta, 5e5);
  assert.equal(parseGemma2Config({ ...minimal, rope_parameters: { rope_type: 'default', rope_theta: 2e4 } }, FILE).ropeTheta, 2e4);
  rejects({ ...minimal, rope_parameters: { rope_type: 'linear', factor: 8 } }, /rope_type/, /linear/);
  rejects({ ...minimal, rope_scaling: { rope_type: 'dynamic' } }, /rope_scaling/);
  rejects({ ...minimal, rope_theta: -1 }, /rope_theta/);
});

test('each missing required key is named', () => {
  for (const key of Object.keys(minimal)) {
    const partial: Record<string, unknown> = { ...minimal };
    delete partial[key];
    rejects(partial, new RegExp(`"${key}"`), /missing/);
  }
});

test('wrong types and values are named with what was expected', () => {
  rejects({ ...minimal, hidden_size: '64' }, /"hidden_size" must be a positive integer, got "64"/);
  rejects({ ...minimal, num_hidden_layers: 2.5 }, /"num_hidden_layers"/, /2\.5/);
  rejects({ ...minimal, vocab_size: 0 }, /"vocab_size"/);
  rejects({ ...minimal, head_dim: -16 }, /"head_dim"/);
  rejects({ ...minimal, head_dim: 15 }, /head_dim must be even/);
  rejects({ ...minimal, rms_norm_eps: 0 }, /"rms_norm_eps" must be a positive number/);
  rejects({ ...minimal, query_pre_attn_scalar: null }, /"query_pre_attn_scalar"/);
  rejects({ ...minimal, attn_logit_softcapping: 'big' }, /"attn_logit_softcapping" must be a positive number or null/);
  rejects({ ...minimal, num_key_value_heads: 3 }, /num_attention_heads \(4\) must be a multiple of num_key_value_heads \(3\)/);
  rejects({ ...minimal, bos_token_id: -1 }, /"bos_token_id"/);
  rejects({ ...minimal, sliding_window: 0 }, /"sliding_window"/);
});

test('other architectures and unsupported features are refused by name', () => {
  rejects({ ...minimal, model_type: 'gemma3_text' }, /gemma3_text/, /only Gemma-2/);
  const noType: Record<string, unknown> = { ...minimal };
  delete noType.model_type;
  rejects(noType, /"model_type" is missing/);
  rejects({ ...minimal, hidden_activation: 'gelu' }, /hidden_activation/, /"gelu"/);
  rejects({ ...minimal, attention_bias: true }, /attention_bias/);
  rejects({ ...minimal, tie_word_embeddings: false }, /tie_word_embeddings/);
  rejects({ ...minimal, use_bidirectional_attention: true }, /use_bidirectional_attention/);
  rejects([minimal], /expected a JSON object/);
  rejects(null, /expected a JSON object/);
});

test('the default hook layer is the middle of the stack', () => {
  assert.equal(defaultHookLayer({ numHiddenLayers: 26 }), 13);
  assert.equal(defaultHookLayer({ numHiddenLayers: 42 }), 21);
  assert.equal(defaultHookLayer({ numHiddenLayers: 5 }), 2);
});
