/**
 * The f32 format's weights file: read back as a plain safetensors file, it holds exactly the model's
 * values (BF16 to float32 is exact); it is made once, and it lives beside the quantized files without either removing the other. A model stored
 * in float32 is read in place.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { openModelFolder } from '../../../src/engine/model/modelFolder';
import { readSafetensorsHeader } from '../../../src/engine/model/safetensors';
import { readTensor } from '../../../src/engine/model/tensorData';
import { Gemma2Runner } from '../../../src/engine/gemma2/runner';
import { floatWeightsFile } from '../../../src/engine/weights/floatFile';
import { quantizedWeightsFile } from '../../../src/engine/weights/quantizedFile';
import { ensureTinyModel } from '../../fixtures/tinyModel';
import { modelVariant } from '../../fixtures/modelVariant';
import { testTempDir } from '../../fixtures/tempDir';

const base = testTempDir('ffile');

test('every tensor of a BF16 model is in the file as float32, bit for bit', async () => {
  const folder = await openModelFolder(modelVariant(await ensureTinyModel({ dtype: 'bf16' }), path.join(base, 'values')));
  const made = await floatWeightsFile(folder);
  const header = await readSafetensorsHeader(made.file);
  const inFile = new Map(header.tensors.map((t) => [t.name, t]));
  assert.equal(inFile.size, folder.tensors.size, 'one tensor in the file per tensor of the model');
  for (const [name, loc] of folder.tensors) {
    const copy = inFile.get(name);
    assert.ok(copy, `${name} is in the file`);
    assert.equal(copy.dtype, 'F32');
    assert.deepEqual(copy.shape, loc.shape, `${name}'s shape`);
    assert.deepEqual(await readTensor(copy), await readTensor(loc), `${name}'s values`);
  }
  console.log(`${folder.tensors.size} tensors checked`);
});

test('the file is made once, and it and the quantized files keep each other', async () => {
  const dir = modelVariant(await ensureTinyModel(), path.join(base, 'beside'));
  const folder = await openModelFolder(dir);
  const first = await floatWeightsFile(folder);
  const written = fs.statSync(first.file).mtimeMs;
  const quantized = await quantizedWeightsFile(folder, 8, 'weights');
  const again = await floatWeightsFile(folder);
  assert.equal(again.file, first.file);
  assert.equal(fs.statSync(again.file).mtimeMs, written, 'reused, not rewritten');
  const files = fs.readdirSync(dir).filter((f) => f.startsWith('microsteer-weights-')).sort();
  assert.deepEqual(files, [path.basename(first.file), path.basename(quantized.file)].sort());
});

test('f32 runs a BF16 model from the file and a float32 model from its own tensors', async () => {
  const written = async (dtype: 'bf16' | 'f32') => {
    const dir = modelVariant(await ensureTinyModel({ dtype }), path.join(base, `runner-${dtype}`));
    const runner = await Gemma2Runner.open(dir, { device: 'cpu', weights: 'f32' });
    await runner.release();
    return fs.readdirSync(dir).filter((f) => f.startsWith('microsteer-weights-'));
  };
  assert.equal((await written('bf16')).length, 1, 'the BF16 model got its float32 file');
  assert.deepEqual(await written('f32'), [], 'nothing was written beside the float32 model');
});
