/**
 * The quantized weights file: made once and reused (keyed by the model's fingerprint), never written into
 * a read-only model folder (the cache folder takes it, and the graphs that read it), never through a link
 * planted at its name, and replaced (the old one removed) when the weights change. The gradient file holds
 * each W^T's quantization, the embedding's in column slices.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { before, test } from 'node:test';
import { openModelFolder } from '../../../src/engine/model/modelFolder';
import { readTensor } from '../../../src/engine/model/tensorData';
import { quantizeRows } from '../../../src/engine/weights/blockQuantize';
import { columnSliceName, columnSlices, quantizedMatrices, quantizedWeightsFile } from '../../../src/engine/weights/quantizedFile';
import { ensureTinyModel } from '../../fixtures/tinyModel';
import { modelVariant } from '../../fixtures/modelVariant';
import { testTempDir } from '../../fixtures/tempDir';
import { seededIds } from '../gemma2/gemma2TestKit';

const base = testTempDir('qfile');
let model: string;

before(async () => {
  model = await ensureTinyModel();
});

const weightFiles = (dir: string) => fs.readdirSync(dir).filter((f) => f.startsWith('microsteer-weights-'));

test('the file is written once beside the model and reused while the weights stay the same', async () => {
  const dir = modelVariant(model, path.join(base, 'reuse'));
  const folder = await openModelFolder(dir);
  const first = await quantizedWeightsFile(folder, 8, 'weights');
  assert.equal(path.dirname(first.file), dir);
  const written = fs.statSync(first.file).mtimeMs;
  const again = await quantizedWeightsFile(folder, 8, 'weights');
  assert.equal(again.file, first.file);
  assert.equal(fs.statSync(again.file).mtimeMs, written, 'reused, not rewritten');
  assert.deepEqual(weightFiles(dir), [path.basename(first.file)]);
});

test('a truncated or foreign file of that name is replaced, and a link planted there is not followed', async () => {
  const dir = modelVariant(model, path.join(base, 'planted'));
  const folder = await openModelFolder(dir);
  const expected = (await quantizedWeightsFile(folder, 4, 'weights')).file;
  const size = fs.statSync(expected).size;
  fs.truncateSync(expected, 100);
  assert.equal(fs.statSync((await quantizedWeightsFile(folder, 4, 'weights')).file).size, size, 'a truncated file is written again');
  const victim = path.join(base, 'victim.txt');
  fs.writeFileSync(victim, 'keep me');
  fs.rmSync(expected);
  fs.symlinkSync(victim, expected);
  await quantizedWeightsFile(folder, 4, 'weights');
  assert.equal(fs.readFileSync(victim, 'utf8'), 'keep me');
  assert.ok(fs.lstatSync(expected).isFile(), 'the link was replaced by the file itself');
});

test('changed weights get a new file and the old one is removed', async () => {
  const dir = modelVariant(model, path.join(base, 'changed'));
  const old = (await quantizedWeightsFile(await openModelFolder(dir), 8, 'weights')).file;
  const weights = path.join(dir, 'model.safetensors');
  const bytes = fs.readFileSync(weights);
  bytes[bytes.length - 1] ^= 0x01; // the last byte is one of the fingerprint's samples
  fs.writeFileSync(weights, bytes);
  const fresh = (await quantizedWeightsFile(await openModelFolder(dir), 8, 'weights')).file;
  assert.notEqual(fresh, old);
  assert.deepEqual(weightFiles(dir), [path.basename(fresh)]);
});

test("the gradient file holds each matrix's W^T quantized, the embedding's in column slices, byte for byte", async () => {
  const dir = modelVariant(model, path.join(base, 'transposed'));
  const folder = await openModelFolder(dir);
  const file = await quantizedWeightsFile(folder, 4, 'transposed');
  const bytes = fs.readFileSync(file.file);
  const stored = (name: string) => {
    const t = file.tensors.get(name);
    assert.ok(t, `the file has ${name}`);
    return bytes.subarray(t.offset, t.offset + t.byteLength);
  };
  let sliced = 0;
  for (const name of quantizedMatrices(folder)) {
    const loc = folder.tensors.get(name);
    assert.ok(loc);
    const [rows, cols] = loc.shape;
    // W^T [cols, rows], transposed here from the whole of W.
    const w = await readTensor(loc);
    const wt = new Float32Array(rows * cols);
    for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) wt[c * rows + r] = w[r * cols + c];
    const pieces = columnSlices(rows, 'transposed')?.map((s) => ({ tensor: columnSliceName(name, s.first), first: s.first, width: s.cols })) ?? [{ tensor: name, first: 0, width: rows }];
    if (pieces.length > 1) sliced++;
    for (const { tensor, first, width } of pieces) {
      const columns = new Float32Array(cols * width);
      for (let r = 0; r < cols; r++) columns.set(wt.subarray(r * rows + first, r * rows + first + width), r * width);
      const q = quantizeRows(columns, cols, width, 4);
      assert.ok(stored(`${tensor}.q`).equals(q.data), `${tensor}.q`);
      assert.ok(stored(`${tensor}.scales`).equals(new Uint8Array(q.scales.buffer)), `${tensor}.scales`);
    }
  }
  assert.equal(sliced, 1, 'the embedding (W^T as wide as the vocabulary) is the one matrix kept in column slices');
});

/**
 * Opens the model with int8 weights and runs it in a child process that cannot write to the model folder:
 * as the user nobody when the tests run as root (root writes anywhere), else after chmod 555.
 */
function runReadOnly(dir: string, cacheDir: string): { finite: boolean } {
  const out = path.resolve(__dirname, '../../../src/engine');
  const script = `
    const { Gemma2Runner } = require(${JSON.stringify(path.join(out, 'gemma2/runner'))});
    (async () => {
      const runner = await Gemma2Runner.open(${JSON.stringify(dir)}, { device: 'cpu', weights: 'int8', cacheDir: ${JSON.stringify(cacheDir)} });
      const step = await runner.prefill([${JSON.stringify(seededIds(8, 3))}]);
      process.stdout.write(JSON.stringify({ finite: step.logits.every(Number.isFinite) }));
      await runner.release();
    })().catch((e) => { console.error(e); process.exit(1); });`;
  const asRoot = process.getuid?.() === 0;
  const res = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', ...(asRoot ? { uid: 65534, gid: 65534 } : {}) });
  assert.equal(res.status, 0, `child failed: ${res.stderr}`);
  return JSON.parse(res.stdout);
}

test('a read-only model folder is left untouched: the weights and their graphs go to the cache folder and run from there', () => {
  const dir = modelVariant(model, path.join(base, 'readonly'));
  const cacheDir = path.join(base, 'cache');
  fs.mkdirSync(cacheDir, { mode: 0o777 });
  fs.chmodSync(cacheDir, 0o777);
  fs.chmodSync(base, 0o755);
  const before = fs.readdirSync(dir).sort();
  fs.chmodSync(dir, 0o555);
  try {
    assert.deepEqual(runReadOnly(dir, cacheDir), { finite: true });
    assert.deepEqual(fs.readdirSync(dir).sort(), before, 'nothing was written into the model folder');
    assert.equal(weightFiles(cacheDir).length, 1, 'the quantized weights are in the cache folder');
    assert.ok(fs.readdirSync(cacheDir).some((f) => f.endsWith('.onnx')), 'the graph that reads them is beside them');
    const written = fs.statSync(path.join(cacheDir, weightFiles(cacheDir)[0])).mtimeMs;
    assert.deepEqual(runReadOnly(dir, cacheDir), { finite: true });
    assert.equal(fs.statSync(path.join(cacheDir, weightFiles(cacheDir)[0])).mtimeMs, written, 'reused from the cache folder');
  } finally {
    fs.chmodSync(dir, 0o755);
  }
});
