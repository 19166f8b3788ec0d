/**
 * The model in this process, for the commands that read hidden states (meandiff, layers, compare-states):
 * the runner (its forward graph compiled or taken from the cache) and the tokenizer, released afterwards.
 */
import { Gemma2Runner } from '../../engine/gemma2/runner';
import { openModelFolder } from '../../engine/model/modelFolder';
import { loadTokenizer, type Tokenizer } from '../../engine/tokenizer';
import type { Device, WeightsSetting } from '../../protocol';

export async function withLocalModel<T>(
  modelPath: string,
  options: { device: Device; weights: WeightsSetting; hookLayer?: number },
  work: (runner: Gemma2Runner, tokenizer: Tokenizer) => Promise<T>,
): Promise<T> {
  const folder = await openModelFolder(modelPath);
  const [runner, tokenizer] = await Promise.all([Gemma2Runner.open(folder, options), loadTokenizer(folder.dir)]);
  try {
    return await work(runner, tokenizer);
  } finally {
    await runner.release();
  }
}
