/**
 * The benchmark's models, made once under .cache/bench-models: the tiny model, a larger Gemma-2-shaped
 * random model, and (opt-in, 5.26 GB) a random model of exactly Gemma-2-2B's shape in BF16 (issue 10).
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { resolveTinyModelShape, writeTinyModel, type TinyModelShape } from '../../src/engine/model/tinyModel';

const ROOT = path.resolve(__dirname, '..', '..', '..');

export const BENCH_MODELS: Record<string, Partial<TinyModelShape>> = {
  tiny: {},
  // Gemma-2-shaped: 8 layers, hidden 512, GQA 8/4 heads of 64, a sliding window shorter than the longer runs.
  larger: { layers: 8, hidden: 512, heads: 8, kvHeads: 4, headDim: 64, intermediate: 2048, slidingWindow: 64 },
  'gemma2-2b-shape': { dtype: 'bf16', layers: 26, hidden: 2304, heads: 8, kvHeads: 4, headDim: 256, intermediate: 9216, slidingWindow: 4096, shards: 3 },
};

/** What a plain `npm run bench` runs: the 2B shape takes minutes per format, so it is asked for by name. */
export const DEFAULT_BENCH_MODELS = ['tiny', 'larger'];

/**
 * The models that also get the graph and steering benches: those open float32 sessions of every graph,
 * which for the 2B shape alone would exceed this machine's memory (issue 10: 16.9 GB for generate).
 */
export const LIGHT_BENCH_MODELS = ['tiny', 'larger'];

/** The folder of a benchmark model, written when missing or made with other options. */
export async function benchModel(name: string): Promise<string> {
  const shape = resolveTinyModelShape(BENCH_MODELS[name]);
  const dir = path.join(ROOT, '.cache', 'bench-models', name);
  const marker = path.join(dir, 'microsteer-bench-shape.json');
  const wanted = JSON.stringify(shape);
  if (existsSync(marker) && readFileSync(marker, 'utf8') === wanted) return dir;
  await writeTinyModel({ ...shape, out: dir, force: true });
  writeFileSync(marker, wanted);
  return dir;
}
