/**
 * The pretraining graph against the independent float64 reference (test/reference): its loss is the
 * reference's mean next-token NLL, and its gradient with respect to every weight tensor (the
 * embedding through both the gather and the tied head, every projection, every norm) matches central
 * finite differences of the reference's loss. Both pretraining graphs have a CUDA kernel for every
 * node (../shared/tools/cuda-coverage.mjs; skipped where that tool is absent).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { before, test } from 'node:test';
import { gemma2TensorShapes } from '../../../src/engine/model/modelFolder';
import { serializeModel } from '../../../src/engine/onnx/serialize';
import { buildPretrainGraph, gradName } from '../../../src/engine/pretrain/pretrainGraph';
import { createSession, runSession, type HostTensor } from '../../../src/engine/runtime/session';
import { testTempDir } from '../../fixtures/tempDir';
import { referenceNll, type ReferenceModel } from '../../reference/gemma2Reference';
import { randomGemma2, seededNormals, smallGemma2Config } from '../../reference/randomGemma2';

/** A window longer than the sliding window (3), so both attention kinds matter. */
const ROWS = [
  [2, 7, 11, 3, 41, 9, 9, 17],
  [2, 30, 5, 12, 48, 6, 21, 33],
];
const H = 1e-5;
/** Absolute plus relative: onnxruntime folds scalar Muls into FusedMatMul with a float32 alpha, which bounds agreement near 1e-7. */
const ABS_TOL = 1e-6;
const REL_TOL = 1e-4;

const config = smallGemma2Config();
let model: ReferenceModel;
let result: Record<string, HostTensor>;

function referenceLoss(): number {
  return ROWS.reduce((sum, ids) => sum + referenceNll(model, ids), 0) / ROWS.length;
}

before(async () => {
  model = randomGemma2(config, 5);
  const graph = buildPretrainGraph(config, { computeDtype: 'float64' });
  const { session } = await createSession({ bytes: serializeModel(graph, { externalDataDir: testTempDir('pretrain-graph') }) }, { device: 'cpu' });
  const seq = ROWS[0].length - 1;
  const ids = (pick: (row: number[]) => number[]): HostTensor => ({
    dtype: 'int64',
    data: BigInt64Array.from(ROWS.flatMap(pick), BigInt),
    dims: [ROWS.length, seq],
  });
  const feeds: Record<string, HostTensor> = {
    input_ids: ids((r) => r.slice(0, -1)),
    target_ids: ids((r) => r.slice(1)),
    position_ids: ids((r) => r.slice(1).map((_, t) => t)),
    attention_mask: ids((r) => r.slice(1).map(() => 1)),
  };
  for (const [name, shape] of gemma2TensorShapes(config)) {
    feeds[name] = { dtype: 'float64', data: Float64Array.from(model.weights.get(name) as Float64Array), dims: shape };
  }
  result = await runSession(session, feeds);
});

test('the loss is the reference mean NLL of the windows', () => {
  const loss = (result.loss.data as Float64Array)[0];
  const expected = referenceLoss();
  console.log(`pretrain graph loss ${loss}, reference ${expected}`);
  assert.ok(Math.abs(loss - expected) <= 1e-7 * Math.max(1, expected), `loss ${loss} vs reference ${expected}`);
});

test('d loss / d weight matches central differences of the reference, for every weight tensor', () => {
  const normal = seededNormals(9);
  let worst = 0;
  for (const [name, shape] of gemma2TensorShapes(config)) {
    const w = model.weights.get(name) as Float64Array;
    const grad = result[gradName(name)].data as Float64Array;
    assert.equal(grad.length, w.length, `${name}: gradient size`);
    // For the embedding, entries of rows the windows read (gather + head) and of one row only the head reads.
    const width = shape[shape.length - 1];
    const entries =
      name === 'model.embed_tokens.weight'
        ? [7 * width + 3, 41 * width + (width - 1), 44 * width + 5]
        : [0, 1, 2].map(() => Math.floor(Math.abs(normal()) * 1e6) % w.length);
    for (const k of entries) {
      const saved = w[k];
      w[k] = saved + H;
      const up = referenceLoss();
      w[k] = saved - H;
      const down = referenceLoss();
      w[k] = saved;
      const fd = (up - down) / (2 * H);
      const err = Math.abs(grad[k] - fd);
      worst = Math.max(worst, err / (ABS_TOL + REL_TOL * Math.abs(fd)));
      assert.ok(err <= ABS_TOL + REL_TOL * Math.abs(fd), `${name}[${k}]: graph ${grad[k]} vs finite difference ${fd}`);
    }
  }
  console.log(`worst gradient error as a share of its tolerance: ${worst.toFixed(3)}`);
});

test('the training and evaluation graphs have a float32 CUDA kernel for every node', (t) => {
  const tool = process.env.MICROSTEER_CUDA_COVERAGE ?? path.resolve(__dirname, '../../../../../shared/tools/cuda-coverage.mjs');
  if (!existsSync(tool)) {
    t.skip(`cuda-coverage.mjs not found at ${tool}`);
    return;
  }
  const dir = testTempDir('pretrain-cuda');
  for (const gradients of [true, false]) {
    const file = path.join(dir, `pretrain-${gradients}.onnx`);
    writeFileSync(file, serializeModel(buildPretrainGraph(config, { gradients }), { externalDataDir: dir }));
    const res = spawnSync(process.execPath, [tool, file, '--json', '--strict'], { encoding: 'utf8' });
    assert.equal(res.status, 0, `${gradients ? 'training' : 'evaluation'} graph: ${res.stdout}${res.stderr}`);
    assert.equal(JSON.parse(res.stdout).summary.uncovered, 0);
  }
});
