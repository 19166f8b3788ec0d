/**
 * Every graph the engine compiles, in every weights format, stays CUDA-clean: the forward graph (which
 * also scores the NLL and runs training rows) and the backward graph of the tiny model as f32, stored (its BF16 twin) and int8/int4 are
 * checked by ../shared/tools/cuda-coverage.mjs --strict (set MICROSTEER_CUDA_COVERAGE to its path
 * elsewhere). Skipped where the tool is absent, as test/unit/onnx/cudaCoverage.test.ts is.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { buildForwardGraph } from '../../../src/engine/gemma2/forwardGraph';
import type { ModelWeights } from '../../../src/engine/gemma2/layers';
import { openModelFolder } from '../../../src/engine/model/modelFolder';
import type { ModelFolder } from '../../../src/engine/model/types';
import type { GraphBuilder, GraphParts } from '../../../src/engine/onnx/graph';
import { serializeModel } from '../../../src/engine/onnx/serialize';
import { floatWeightsFile } from '../../../src/engine/weights/floatFile';
import { floatWeights, quantizedWeights, storedWeights } from '../../../src/engine/weights/graphWeights';
import { quantizedWeightsFile } from '../../../src/engine/weights/quantizedFile';
import { ensureTinyModel } from '../../fixtures/tinyModel';
import { testTempDir } from '../../fixtures/tempDir';

const repoRoot = path.resolve(__dirname, '../../../..');
const tool = process.env.MICROSTEER_CUDA_COVERAGE ?? path.resolve(repoRoot, '../shared/tools/cuda-coverage.mjs');
const cacheDir = testTempDir('cuda-formats');

interface Format {
  name: string;
  folder: ModelFolder;
  /** Where its weights are: graphs are written there. */
  dir: string;
  weights: (g: GraphBuilder) => ModelWeights;
}

async function formats(): Promise<Format[]> {
  const f32 = await openModelFolder(await ensureTinyModel());
  const bf16 = await openModelFolder(await ensureTinyModel({ dtype: 'bf16' }));
  const floats = await floatWeightsFile(bf16, { cacheDir });
  const out: Format[] = [
    { name: 'f32', folder: bf16, dir: floats.dir, weights: (g) => floatWeights(g, floats) },
    { name: 'stored', folder: bf16, dir: bf16.dir, weights: (g) => storedWeights(g, bf16) },
  ];
  for (const bits of [8, 4] as const) {
    const file = await quantizedWeightsFile(f32, bits, 'weights', { cacheDir });
    const transposed = await quantizedWeightsFile(f32, bits, 'transposed', { cacheDir });
    out.push({ name: `int${bits}`, folder: f32, dir: file.dir, weights: (g) => quantizedWeights(g, file, transposed) });
  }
  return out;
}

test('forward (with its NLL and training rows) and backward graphs in every weights format have CUDA kernels for every node', async (t) => {
  if (!fs.existsSync(tool)) {
    t.skip(`cuda-coverage.mjs not found at ${tool}`);
    return;
  }
  for (const format of await formats()) {
    const split = buildForwardGraph(format.folder, { hookLayer: 2, weights: format.weights });
    const graphs: [string, GraphParts][] = [
      ['forward', split.forward],
      ['backward', split.backward],
    ];
    for (const [role, g] of graphs) {
      const file = path.join(cacheDir, `${format.name}-${role}.onnx`);
      fs.writeFileSync(file, serializeModel(g, { externalDataDir: format.dir }));
      const res = spawnSync(process.execPath, [tool, file, '--json', '--strict'], { encoding: 'utf8' });
      assert.notEqual(res.status, 2, `tool failed: ${res.stderr}`);
      const report = JSON.parse(res.stdout) as { summary: { nodes: number; uncovered: number; unknown: number } };
      console.log(`${format.name} ${role}: ${report.summary.nodes} nodes, ${report.summary.uncovered} without a CUDA kernel, ${report.summary.unknown} unverified`);
      assert.equal(report.summary.uncovered, 0, `${format.name} ${role}: nodes without a CUDA kernel:\n${res.stdout.slice(0, 4000)}`);
      assert.equal(report.summary.unknown, 0, `${format.name} ${role}: nodes whose types were not inferred:\n${res.stdout.slice(0, 4000)}`);
      assert.equal(res.status, 0);
    }
  }
});
