/**
 * Shared pieces of the training tests: the tiny model's runner (float32, CPU, default hook layer) and
 * tokenizer, a handful of short examples, and a runner wrapper that counts or poisons train steps.
 */
import { Gemma2Runner, type TrainStep } from '../../../src/engine/gemma2/runner';
import { parsePlane } from '../../../src/engine/plane';
import type { PlaneRecord } from '../../../src/protocol';
import { loadTokenizer, type Tokenizer } from '../../../src/engine/tokenizer';
import type { TrainingRunner } from '../../../src/engine/train/trainer';
import { ensureTinyModel } from '../../fixtures/tinyModel';

/** Short texts (4-6 tokens with BOS): each step runs the tiny model's 262k-word head once per token. */
export const EXAMPLES = ['The cat sat.', 'A dog ran far.', 'Birds sang.', 'Fish swim.'];

export interface TrainKit {
  runner: Gemma2Runner;
  tokenizer: Tokenizer;
}

export async function openTrainKit(): Promise<TrainKit> {
  const dir = await ensureTinyModel();
  const [runner, tokenizer] = await Promise.all([Gemma2Runner.open(dir, { device: 'cpu' }), loadTokenizer(dir)]);
  return { runner, tokenizer };
}

/** A runner that counts train steps and may replace the result of call k (1-based). */
export function instrumented(runner: Gemma2Runner, replace?: (call: number, step: TrainStep) => TrainStep): TrainingRunner & { trainSteps: number } {
  const wrapper = {
    folder: runner.folder,
    hookLayer: runner.hookLayer,
    trainSteps: 0,
    hookScale: () => runner.hookScale(),
    hookActivations: (rows: Parameters<Gemma2Runner['hookActivations']>[0]) => runner.hookActivations(rows),
    trainStep: async (...args: Parameters<Gemma2Runner['trainStep']>) => {
      wrapper.trainSteps++;
      const step = await runner.trainStep(...args);
      return replace ? replace(wrapper.trainSteps, step) : step;
    },
  };
  return wrapper;
}

/** The plane of a record, decoded as a plane file reader would. */
export function planeOf(record: PlaneRecord): { n: Float32Array; b: number } {
  return parsePlane(record, 'the trained record');
}
