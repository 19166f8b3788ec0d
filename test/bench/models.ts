/** The benchmark's models: the tiny model and a larger Gemma-2-shaped random model, made once under .cache/bench-models. */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { resolveTinyModelShape, writeTinyModel, type TinyModelShape } from '../../src/engine/model/tinyModel';

const ROOT = path.resolve(__dirname, '..', '..', '..');

export const BENCH_MODELS: Record<string, Partial<TinyModelShape>> = {
  tiny: {},
  // Gemma-2-shaped: 8 layers, hidden 512, GQA 8/4 heads of 64, a sliding window shorter than the longer runs.
  larger: { layers: 8, hidden: 512, heads: 8, kvHeads: 4, headDim: 64, intermediate: 2048, slidingWindow: 64 },
};

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
