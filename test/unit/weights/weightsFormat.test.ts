/** The weights setting: parsing, and what auto picks for a device and a machine's memory. */
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { InputError } from '../../../src/engine/errors';
import { gemma2TensorShapes, openModelFolder } from '../../../src/engine/model/modelFolder';
import type { ModelFolder } from '../../../src/engine/model/types';
import { chooseWeights, packsWeights, parseWeightsSetting } from '../../../src/engine/weights/weightsFormat';
import { ensureTinyModel } from '../../fixtures/tinyModel';

let f32Model: ModelFolder;
let bf16Model: ModelFolder;
const GB = 1e9;

before(async () => {
  f32Model = await openModelFolder(await ensureTinyModel());
  bf16Model = await openModelFolder(await ensureTinyModel({ dtype: 'bf16' }));
});

test('settings other than the five are refused by name', () => {
  assert.equal(parseWeightsSetting('int4', '--weights'), 'int4');
  assert.throws(() => parseWeightsSetting('q4', '--weights'), (e: Error) => e instanceof InputError && /--weights must be one of auto, f32, stored, int8, int4, got "q4"/.test(e.message));
  assert.throws(() => parseWeightsSetting(8, 'weights'), InputError);
});

test('auto keeps exact float32 where the copies take at most a quarter of memory, else int8, and says why', () => {
  const small = chooseWeights('auto', f32Model, 'cpu', null, 64 * GB);
  assert.equal(small.format, 'f32');
  assert.match(small.reason, /f32 \(exact\)/);
  const tight = chooseWeights('auto', f32Model, 'cpu', null, 1e5);
  assert.equal(tight.format, 'int8');
  assert.match(tight.reason, /float32 copies would take/);
});

test('auto computes in the stored 16-bit weights on CUDA, and stored without CUDA is refused with the alternatives', () => {
  assert.equal(chooseWeights('auto', bf16Model, 'auto', null).format, 'stored');
  assert.equal(chooseWeights('auto', f32Model, 'auto', null, 64 * GB).format, 'f32', 'float32 files have nothing smaller to keep');
  assert.notEqual(chooseWeights('auto', bf16Model, 'auto', 'no CUDA provider').format, 'stored');
  assert.throws(() => chooseWeights('stored', bf16Model, 'cpu', null), /stored.*BF16 on CUDA.*device is cpu.*use f32, int8 or int4/);
  assert.throws(() => chooseWeights('stored', bf16Model, 'auto', 'no CUDA provider'), /no CUDA provider/);
});

test('f32 packs its projections up to 1 GB of them, a 2B-shaped model reads them in place, quantized formats always pack', () => {
  assert.equal(packsWeights('f32', f32Model), true);
  // The 2B shape: 8.1 GB of float32 projections (norms included, they do not count).
  const config = { ...f32Model.config, vocabSize: 256000, hiddenSize: 2304, intermediateSize: 9216, numHiddenLayers: 26, numAttentionHeads: 8, numKeyValueHeads: 4, headDim: 256 };
  const like = f32Model.tensors.get('model.embed_tokens.weight')!;
  const large = { ...f32Model, config, tensors: new Map([...gemma2TensorShapes(config)].map(([name, shape]) => [name, { ...like, name, shape }])) };
  assert.equal(packsWeights('f32', large), false);
  assert.equal(packsWeights('int8', large), true);
  assert.equal(packsWeights('int4', large), true);
  // The embedding is not packed (the head reads it as MatMul's left operand), so it does not count.
  const embeddingOnly = { ...large, tensors: new Map([...large.tensors].filter(([name]) => name === 'model.embed_tokens.weight')) };
  assert.equal(packsWeights('f32', embeddingOnly), true);
});
