/**
 * One residual-stream vector per example text and layer: the state after the layer at the example's last
 * token, or the mean over its tokens after BOS (whose state is the same in every example: it only adds a
 * constant that depends on each example's length). What mean differences and layer diagnostics start from.
 */
import { CancelledError, InputError } from '../errors';
import type { Gemma2Runner } from '../gemma2/runner';
import type { Tokenizer } from '../tokenizer';
import { encodeExamples } from '../train/trainingExamples';

export type ExamplePosition = 'last' | 'mean';

/** What the methods need of a runner. */
export type HiddenStateRunner = Pick<Gemma2Runner, 'folder' | 'hiddenStates'>;

export interface ExampleStateOptions {
  /** Decoder layers: the residual stream after each. */
  layers: readonly number[];
  position: ExamplePosition;
  /** Wrap each example as a user turn of the model's chat template (with the generation prompt). */
  chatTemplate?: boolean;
  signal?: AbortSignal;
}

/** Examples per forward run: the hidden states of every layer of a batch come back at once. */
const EXAMPLES_PER_RUN = 8;

/** Checks decoder layers against the model: integers in range, no repeats. */
export function checkLayers(layers: readonly number[], numHiddenLayers: number, what: string): void {
  if (layers.length === 0) throw new InputError(`${what}: no layers given`);
  for (const layer of layers) {
    if (!Number.isInteger(layer) || layer < 0 || layer >= numHiddenLayers) throw new InputError(`${what}: layer ${layer} is not a layer of the model (0 to ${numHiddenLayers - 1})`);
  }
  if (new Set(layers).size !== layers.length) throw new InputError(`${what}: layers ${layers.join(', ')} repeat a layer`);
}

/** Token ids of the examples, raw or as user turns of the chat template; BOS first either way. */
export function encodeExampleTexts(tokenizer: Tokenizer, examples: readonly string[], chatTemplate: boolean): number[][] {
  const ids = encodeExamples(tokenizer, examples, 2, 'a residual-stream state after BOS');
  if (!chatTemplate) return ids;
  return examples.map((text) => tokenizer.encode(tokenizer.applyChatTemplate([{ role: 'user', content: text }]), { addBos: true }));
}

/** Per layer (in the order of `options.layers`), one [hidden] vector per example. */
export async function exampleStates(runner: HiddenStateRunner, tokenizer: Tokenizer, examples: readonly string[], options: ExampleStateOptions): Promise<Float64Array[][]> {
  const c = runner.folder.config;
  checkLayers(options.layers, c.numHiddenLayers, 'example states');
  const ids = encodeExampleTexts(tokenizer, examples, options.chatTemplate ?? false);
  const states = options.layers.map(() => [] as Float64Array[]);
  for (let start = 0; start < ids.length; start += EXAMPLES_PER_RUN) {
    if (options.signal?.aborted) throw new CancelledError('reading the examples\' hidden states');
    const batch = ids.slice(start, start + EXAMPLES_PER_RUN);
    const out = await runner.hiddenStates(batch, { states: options.layers.map((layer) => layer + 1) });
    batch.forEach((row, i) => {
      const first = options.position === 'last' ? row.length - 1 : row[0] === tokenizer.bosId ? 1 : 0;
      options.layers.forEach((layer, j) => states[j].push(tokenMean(out[i].get(layer + 1)!, first, row.length, c.hiddenSize)));
    });
  }
  return states;
}

/** The mean of the [hidden] rows first..end-1 of a [tokens * hidden] array. */
function tokenMean(data: ArrayLike<number>, first: number, end: number, hidden: number): Float64Array {
  const mean = new Float64Array(hidden);
  for (let t = first; t < end; t++) for (let i = 0; i < hidden; i++) mean[i] += data[t * hidden + i];
  return mean.map((x) => x / (end - first));
}
