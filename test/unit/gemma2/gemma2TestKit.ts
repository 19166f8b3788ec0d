/**
 * Shared pieces of the Gemma-2 graph tests: the tiny model with its float64 reference, seeded
 * planes and token ids, and a max-abs-difference measure.
 */
import { ensureTinyModel } from '../../fixtures/tinyModel';
import { openModelFolder } from '../../../src/engine/model/modelFolder';
import { readTensor } from '../../../src/engine/model/tensorData';
import type { TinyModelShape } from '../../../src/engine/model/tinyModel';
import type { ModelFolder } from '../../../src/engine/model/types';
import { loadReferenceModel, type ReferenceModel } from '../../reference/gemma2Reference';
import { seededNormals } from '../../reference/randomGemma2';

export interface TinyModel {
  folder: ModelFolder;
  reference: ReferenceModel;
}

const loaded = new Map<string, Promise<TinyModel>>();

/** The tiny model (4 layers, hidden 64, sliding window 8 by default) and its reference, loaded once per options. */
export function tinyModel(options: Partial<TinyModelShape> = {}): Promise<TinyModel> {
  const key = JSON.stringify(options);
  let m = loaded.get(key);
  if (!m) {
    m = (async () => {
      const folder = await openModelFolder(await ensureTinyModel(options));
      return { folder, reference: await loadReferenceModel(folder, readTensor) };
    })();
    loaded.set(key, m);
  }
  return m;
}

/** A seeded unit direction n and an offset b that makes relu(dot(n, v) + b) active at most positions. */
export function seededPlane(hidden: number, seed: number): { n: Float64Array; b: number } {
  const normal = seededNormals(seed);
  const n = Float64Array.from({ length: hidden }, normal);
  const norm = Math.hypot(...n);
  return { n: n.map((x) => x / norm), b: 0.3 };
}

/** Seeded token ids in [2, 2 + range). */
export function seededIds(count: number, seed: number, range = 5000): number[] {
  const normal = seededNormals(seed);
  return Array.from({ length: count }, () => 2 + (Math.floor(Math.abs(normal()) * 1e6) % range));
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`lengths differ: ${a.length} vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/** Row i of a row-major [rows * width] array. */
export function rowOf(a: Float32Array | Float64Array, i: number, width: number): Float32Array | Float64Array {
  return a.subarray(i * width, (i + 1) * width);
}
