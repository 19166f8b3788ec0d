/**
 * The compiled graphs' costs (issue 3): compile and session-load time, and a training step against a
 * forward pass of the same upper layers. Prefill and decode are measured per weights format in
 * formatBench.ts.
 */
import { rmSync, readdirSync } from 'node:fs';
import * as path from 'node:path';
import { Gemma2Runner, type TrainRow } from '../../src/engine/gemma2/runner';
import { buildForwardGraph } from '../../src/engine/gemma2/forwardGraph';
import { defaultHookLayer } from '../../src/engine/model/config';
import { openModelFolder } from '../../src/engine/model/modelFolder';
import type { ModelFolder } from '../../src/engine/model/types';
import type { WeightsFormat } from '../../src/engine/weights/weightsFormat';
import { compileGraph } from '../../src/engine/onnx/compileCache';
import { createSession } from '../../src/engine/runtime/session';
import { SeededRandom } from '../../src/engine/random';
import { benchIds } from './prompts';
import { medianMs, timeMs, type Measurement } from './report';

/**
 * `weights` is the format of the training-step comparison; the compile and session-load times are the
 * float32 graphs' (measured only with f32: a model too large for float32 sessions is run quantized).
 */
export async function graphBench(model: string, dir: string, repeat: number, weights: WeightsFormat = 'f32'): Promise<Measurement[]> {
  const out: Measurement[] = [];
  const add = (metric: string, value: number, unit: string, detail: string) => out.push({ model, weights, metric, value, unit, detail });
  const folder = await openModelFolder(dir);
  const hookLayer = defaultHookLayer(folder.config);
  if (weights === 'f32') await compileAndLoad(folder, hookLayer, add);
  const runner = await Gemma2Runner.open(folder, { device: 'cpu', hookLayer, weights });

  try {
    const examples = Array.from({ length: 4 }, (_, i) => benchIds(24, 100 + i));
    const sites = await runner.hookActivations(examples);
    const rows: TrainRow[] = examples.map((e, i) => ({ ids: e, ...sites[i] }));
    const rng = new SeededRandom(7);
    const n = Array.from({ length: folder.config.hiddenSize }, () => rng.normal());
    const plane = { n, b: 0.1 };
    const stepMs = await medianMs(repeat, () => runner.trainStep(rows, plane, 1));
    const lossMs = await medianMs(repeat, () => runner.trainLoss(rows, plane, 1));
    const upper = `layers ${hookLayer + 1}..${folder.config.numHiddenLayers - 1} + head`;
    add('train step (loss + gradients)', stepMs, 'ms', `4 rows x 24 tokens, ${upper}, median of ${repeat}`);
    add('upper-layer forward (loss only)', lossMs, 'ms', `same rows and layers, no reverse sweep`);
    add('train step / forward of the same layers', stepMs / lossMs, 'ratio', 'measured in this run');
  } finally {
    await runner.release();
  }
  return out;
}

/** A cold build and compile of the float32 forward and backward graphs, and opening their sessions. */
async function compileAndLoad(folder: ModelFolder, hookLayer: number, add: (metric: string, value: number, unit: string, detail: string) => void): Promise<void> {
  const dir = folder.dir;
  // Remove earlier compiled graphs so that the files are written again.
  for (const f of readdirSync(dir)) if (/^microsteer-.*\.onnx$/.test(f)) rmSync(path.join(dir, f));
  let split!: ReturnType<typeof buildForwardGraph>;
  add('build forward and backward graphs', await timeMs(() => (split = buildForwardGraph(folder, { hookLayer }))), 'ms', 'build + autodiff + split');
  let forward!: ReturnType<typeof compileGraph>;
  let backward!: ReturnType<typeof compileGraph>;
  add('compile forward graph', await timeMs(() => (forward = compileGraph(split.forward, { modelDir: dir, name: `forward-l${hookLayer}` }))), 'ms', 'serialise + write');
  add('compile backward graph', await timeMs(() => (backward = compileGraph(split.backward, { modelDir: dir, name: `backward-l${hookLayer}` }))), 'ms', 'serialise + write');
  for (const [name, compiled] of [['forward', forward], ['backward', backward]] as const) {
    const t0 = performance.now();
    const { session } = await createSession(compiled.source, { device: 'cpu' });
    add(`load ${name} session`, performance.now() - t0, 'ms', 'onnxruntime CPU');
    await session.release();
  }
}
