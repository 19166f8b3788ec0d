/**
 * The example texts of a training run: encoded (with BOS as the tokenizer adds it) and checked, then
 * run once through the model to cache their hook-site values, so that each step only runs the layers
 * above the hook.
 */
import { InputError } from '../errors';
import type { FloatArray, Gemma2Runner } from '../gemma2/runner';
import type { Tokenizer } from '../tokenizer';

/** One example's token ids and its unsteered hook-site values, [ids.length * hidden] each. */
export interface CachedExample {
  ids: number[];
  residual: FloatArray;
  y: FloatArray;
}

/** How an example is named in messages: its place in the list and the start of its text. */
function describeExample(text: string, index: number): string {
  const preview = text.length > 40 ? `${text.slice(0, 40)}...` : text;
  return `example ${index + 1} (${JSON.stringify(preview)})`;
}

/** Token ids per example; every example needs `minTokens` tokens (BOS included). */
export function encodeExamples(tokenizer: Pick<Tokenizer, 'encode'>, examples: readonly string[], minTokens: number, why: string): number[][] {
  return examples.map((text, i) => {
    if (typeof text !== 'string' || text.trim() === '') throw new InputError(`${describeExample(String(text), i)} is empty: every example needs some text`);
    const ids = tokenizer.encode(text);
    if (ids.length < minTokens) throw new InputError(`${describeExample(text, i)} has ${ids.length} tokens; ${why} needs at least ${minTokens}`);
    return ids;
  });
}

/** The lower layers, once for all examples: the hook sites that every training step starts from. */
export async function cacheExamples(runner: Pick<Gemma2Runner, 'hookActivations'>, ids: number[][]): Promise<CachedExample[]> {
  const sites = await runner.hookActivations(ids);
  return ids.map((row, i) => ({ ids: row, residual: sites[i].residual, y: sites[i].y }));
}
