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
import { InputError } from '../errors';
import { LIMITS } from '../limits';
import { TRAIN_DEFAULTS } from '../../protocol';
import type { Gemma2Config } from '../model/types';
import type { SeededRandom } from '../random';
import type { CachedExample } from './trainingExamples';
import type { TrainSettings } from './trainSettings';

/**
 * Examples per `sequence` step: at most `batchSize`, and at most `batchTokens` tokens counted as
 * examples x the longest example's length (the padded batch is what runs). The default budget is
 * capped by the logits budget (LIMITS.logits over the vocabulary); a given one whose batch exceeds
 * that is refused, as is an example longer than the budget on its own. Returns the batch size and the
 * budget in force, which the plane's record keeps.
 */
export function minibatchSize(
  settings: Pick<TrainSettings, 'batchSize' | 'batchTokens'>,
  budgetGiven: boolean,
  ids: readonly number[][],
  config: Gemma2Config,
): Pick<TrainSettings, 'batchSize' | 'batchTokens'> {
  const byLogits = Math.floor(LIMITS.logits.value / config.vocabSize);
  const batchTokens = budgetGiven ? settings.batchTokens : Math.min(settings.batchTokens, byLogits);
  let longest = 0;
  ids.forEach((row, i) => {
    longest = Math.max(longest, row.length);
    if (row.length <= batchTokens) return;
    const flag = '--batch-tokens (microSteer.training.batchTokens)';
    const budget = budgetGiven
      ? `the minibatch budget of ${batchTokens} tokens given by ${flag}: raise it`
      : byLogits < TRAIN_DEFAULTS.batchTokens
        ? `the default minibatch budget of ${batchTokens} tokens (${TRAIN_DEFAULTS.batchTokens} capped by the logits budget, ${LIMITS.logits.env} ${LIMITS.logits.value} / vocabulary ${config.vocabSize}): raise ${LIMITS.logits.env} and give ${flag}`
        : `the default minibatch budget of ${batchTokens} tokens: give a larger ${flag}`;
    throw new InputError(`example ${i + 1} is ${row.length} tokens long, over ${budget}, or shorten the example`);
  });
  const batchSize = Math.min(settings.batchSize, Math.floor(batchTokens / longest));
  checkScoredLogits(batchSize, longest, config, `the minibatch of ${batchSize} examples that ${batchTokens} tokens hold (--batch-tokens)`);
  return { batchSize, batchTokens };
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
