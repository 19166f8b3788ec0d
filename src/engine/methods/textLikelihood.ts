/**
 * How likely a model finds a text, steered or not: the mean NLL per token and the bits per
 * character of every token after the first. Long texts are read in windows of at most `window`
 * tokens that overlap by one (each window's first token is the previous window's last, so every
 * token is predicted exactly once), as many windows per run as the logits budget allows
 * (LIMITS.logits: a window's every position is scored over the whole vocabulary), so memory is
 * bounded by configuration and not by the text.
 */
import type { SteerRow } from '../gemma2/batchRows';
import type { Gemma2Runner } from '../gemma2/runner';
import type { ResidualEdits } from '../gemma2/residualEdits';
import { InputError } from '../errors';
import { LIMITS, overLimit } from '../limits';

export interface TextLikelihood {
  /** Predicted tokens (the text's tokens after the first, which is <bos>). */
  tokens: number;
  /** Code points of the text. */
  chars: number;
  meanNll: number;
  bitsPerChar: number;
}

export interface TextLikelihoodOptions {
  /** Tokens per window at most (the model's context); fewer when one window's logits exceed the budget. */
  window: number;
  /** Windows per run at most (default: as many as the logits budget holds, up to 8). */
  rowsPerRun?: number;
  /** The plane of every position (the runner's hook layer), if any. */
  steer?: SteerRow;
  edits?: ResidualEdits;
}

export async function textLikelihood(runner: Gemma2Runner, ids: readonly number[], text: string, options: TextLikelihoodOptions): Promise<TextLikelihood> {
  if (ids.length < 2) throw new InputError('the text is too short: it needs at least one token after <bos>');
  const vocab = runner.folder.config.vocabSize;
  const window = Math.min(options.window, Math.floor(LIMITS.logits.value / vocab));
  if (!Number.isInteger(window) || window < 2) throw overLimit(LIMITS.logits, `a window of 2 tokens over a vocabulary of ${vocab}`, 2 * vocab);
  const windows: number[][] = [];
  for (let start = 0; start + 1 < ids.length; start += window - 1) windows.push(ids.slice(start, start + window));
  const perRun = Math.max(1, Math.min(options.rowsPerRun ?? 8, Math.floor(LIMITS.logits.value / (window * vocab))));
  let sum = 0;
  for (let k = 0; k < windows.length; k += perRun) {
    const rows = windows.slice(k, k + perRun);
    const results = await runner.forwardNll(
      rows,
      rows.map(() => options.steer),
      rows.map(() => options.edits),
    );
    results.forEach((r, i) => (sum += r.nll * (rows[i].length - 1)));
  }
  const tokens = ids.length - 1;
  const chars = [...text].length;
  const result = { tokens, chars, meanNll: sum / tokens, bitsPerChar: sum / Math.LN2 / chars };
  if (!Number.isFinite(result.meanNll)) throw new InputError(`the NLL of the text is not finite (${result.meanNll}): check the plane or vector`);
  return result;
}
