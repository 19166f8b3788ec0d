/**
 * How likely a model finds a text, steered or not: the mean NLL per token and the bits per
 * character of every token after the first. Long texts are read in windows of at most `window`
 * tokens that overlap by one (each window's first token is the previous window's last, so every
 * token is predicted exactly once), a few windows per run, so memory is bounded by the window and
 * not by the text.
 */
import type { SteerRow } from '../gemma2/batchRows';
import type { Gemma2Runner } from '../gemma2/runner';
import type { ResidualEdits } from '../gemma2/residualEdits';
import { InputError } from '../errors';

export interface TextLikelihood {
  /** Predicted tokens (the text's tokens after the first, which is <bos>). */
  tokens: number;
  /** Code points of the text. */
  chars: number;
  meanNll: number;
  bitsPerChar: number;
}

export interface TextLikelihoodOptions {
  /** Tokens per window; at most the model's context. */
  window: number;
  /** Windows per run. */
  rowsPerRun?: number;
  /** The plane of every position (the runner's hook layer), if any. */
  steer?: SteerRow;
  edits?: ResidualEdits;
}

export async function textLikelihood(runner: Gemma2Runner, ids: readonly number[], text: string, options: TextLikelihoodOptions): Promise<TextLikelihood> {
  if (ids.length < 2) throw new InputError('the text is too short: it needs at least one token after <bos>');
  if (!Number.isInteger(options.window) || options.window < 2) throw new InputError(`the window must be at least 2 tokens, got ${options.window}`);
  const windows: number[][] = [];
  for (let start = 0; start + 1 < ids.length; start += options.window - 1) windows.push(ids.slice(start, start + options.window));
  const perRun = options.rowsPerRun ?? 8;
  let sum = 0;
  for (let k = 0; k < windows.length; k += perRun) {
    const rows = windows.slice(k, k + perRun).filter((w) => w.length >= 2);
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
