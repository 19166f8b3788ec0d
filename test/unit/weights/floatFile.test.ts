/**
 * The f32 format's weights file: read back as a plain safetensors file, it holds exactly the model's
 * values (BF16 to float32 is exact), each projection transposed and everything else as it is; it is
 * made once, and it lives beside the quantized files without either removing the other.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { EMBEDDING } from '../../../src/engine/gemma2/layers';
import { openModelFolder } from '../../../src/engine/model/modelFolder';
import { readSafetensorsHeader } from '../../../src/engine/model/safetensors';
import { readTensor } from '../../../src/engine/model/tensorData';
import { floatWeightsFile } from '../../../src/engine/weights/floatFile';
import { quantizedWeightsFile } from '../../../src/engine/weights/quantizedFile';
import { ensureTinyModel } from '../../fixtures/tinyModel';
import { modelVariant } from '../../fixtures/modelVariant';
import { testTempDir } from '../../fixtures/tempDir';

const base = testTempDir('ffile');

test('every tensor of a BF16 model is in the file as float32, projections as W^T, bit for bit', async () => {
  const folder = await openModelFolder(modelVariant(await ensureTinyModel({ dtype: 'bf16' }), path.join(base, 'values')));
  const made = await floatWeightsFile(folder);
  const header = await readSafetensorsHeader(made.file);
  const inFile = new Map(header.tensors.map((t) => [t.name, t]));
  assert.equal(inFile.size, folder.tensors.size, 'one tensor in the file per tensor of the model');
  let projections = 0;
  for (const [name, loc] of folder.tensors) {
    const w = await readTensor(loc);
    const transposed = loc.shape.length === 2 && name !== EMBEDDING;
    const copy = inFile.get(transposed ? `${name}.T` : name);
    assert.ok(copy, `${name} is in the file`);
    assert.equal(copy.dtype, 'F32');
    assert.deepEqual(copy.shape, transposed ? [loc.shape[1], loc.shape[0]] : loc.shape, `${name}'s shape`);
    const values = await readTensor(copy);
    if (transposed) {
      projections++;
      const [rows, cols] = loc.shape;
      for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) if (values[c * rows + r] !== w[r * cols + c]) assert.fail(`${name}[${r}, ${c}] differs`);
    } else {
      assert.deepEqual(values, w, `${name}'s values`);
    }
  }
  assert.ok(projections > 0);
  console.log(`${folder.tensors.size} tensors checked, ${projections} of them transposed`);
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
