/**
 * The training rows of one step's MLE term (DESIGN.md section 1), drawn from the cached examples with
 * the run's seeded random source:
 * - `sequence`: a minibatch of whole examples, every position steered and every next token scored;
 * - `notebook`: one example cut at c in [1, T-2]; only the last prefix position c-1 is steered, and
 *   only its prediction of token c is scored. The cached rows are truncated to c+1 tokens, which
 *   changes nothing before the cut: attention is causal.
 */
import { checkScoredLogits } from '../gemma2/batchRows';
import type { TrainRow } from '../gemma2/runner';
import { LIMITS } from '../limits';
import type { Gemma2Config } from '../model/types';
import type { SeededRandom } from '../random';
import type { CachedExample } from './trainingExamples';

/**
 * Examples per `sequence` step: `requested` when given, else as many as fit the logits budget
 * (LIMITS.logits) at the longest example's length, all of them for a few short examples. A batch (or
 * one row) over the budget is refused before any step.
 */
export function minibatchSize(requested: number | undefined, fallback: number, ids: readonly number[][], config: Gemma2Config): number {
  let longest = 0;
  for (const row of ids) longest = Math.max(longest, row.length);
  checkScoredLogits(1, longest, config, `the longest example's training row`);
  if (requested !== undefined) {
    checkScoredLogits(requested, longest, config, `a minibatch of ${requested} examples`);
    return requested;
  }
  return Math.min(fallback, Math.floor(LIMITS.logits.value / (longest * config.vocabSize)));
}

/** `batchSize` distinct examples (all of them, in order, when the batch covers the list). */
export function sequenceRows(examples: readonly CachedExample[], batchSize: number, random: SeededRandom): TrainRow[] {
  if (batchSize >= examples.length) return examples.slice();
  // A partial Fisher-Yates shuffle: the first batchSize places are a uniform draw without replacement.
  const order = examples.map((_, i) => i);
  for (let j = 0; j < batchSize; j++) {
    const k = random.integer(j, order.length - 1);
    [order[j], order[k]] = [order[k], order[j]];
  }
  return order.slice(0, batchSize).map((i) => examples[i]);
}

/** One random example cut at a random c in [1, T-2]. */
export function notebookRow(examples: readonly CachedExample[], random: SeededRandom): TrainRow {
  const example = examples[random.integer(0, examples.length - 1)];
  const cut = random.integer(1, example.ids.length - 2);
  const length = cut + 1;
  const hidden = example.y.length / example.ids.length;
  const atCut = Array.from({ length }, (_, t) => t === cut - 1);
  return {
    ids: example.ids.slice(0, length),
    residual: example.residual.subarray(0, length * hidden),
    y: example.y.subarray(0, length * hidden),
    labels: atCut,
    steered: atCut,
  };
}
