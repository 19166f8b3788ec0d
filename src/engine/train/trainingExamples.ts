/**
 * The example texts of a training run: encoded (with BOS as the tokenizer adds it) and checked, then
 * run once through the model to cache their hook-site values, so that each step only runs the layers
 * above the hook.
 */
import { InputError } from '../errors';
import { LIMITS, checkLimit, overLimit } from '../limits';
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

/**
 * Token ids per example; every example needs `minTokens` tokens (BOS included), and all of them together
 * at most LIMITS.exampleTokens. Text beyond what that many tokens could hold is refused before it is encoded.
 */
export function encodeExamples(tokenizer: Pick<Tokenizer, 'encode'>, examples: readonly string[], minTokens: number, why: string): number[][] {
  checkLimit(LIMITS.examples, 'the number of examples', examples.length);
  // A token is rarely under one character, so this bounds the tokenizer's work by the same limit.
  const characters = examples.reduce((sum, text) => sum + (typeof text === 'string' ? text.length : 0), 0);
  if (characters > LIMITS.charactersPerToken * LIMITS.exampleTokens.value) {
    throw overLimit(LIMITS.exampleTokens, `the examples (${characters} characters) would make more tokens than allowed: their token count`, Math.ceil(characters / LIMITS.charactersPerToken));
  }
  let tokens = 0;
  return examples.map((text, i) => {
    if (typeof text !== 'string' || text.trim() === '') throw new InputError(`${describeExample(String(text), i)} is empty: every example needs some text`);
    const ids = tokenizer.encode(text);
    if (ids.length < minTokens) throw new InputError(`${describeExample(text, i)} has ${ids.length} tokens; ${why} needs at least ${minTokens}`);
    tokens += ids.length;
    checkLimit(LIMITS.exampleTokens, `the token count of examples 1 to ${i + 1}`, tokens);
    return ids;
  });
}

/**
 * Runs of the lower layers while caching take at most this many rows and padded tokens: each run also
 * computes a vocabulary-wide last-position logit row per example (measured: 2000 short examples in
 * chunks of 4096 tokens alone took 1.6 GB).
 */
const CACHE_CHUNK_TOKENS = 4096;
const CACHE_CHUNK_ROWS = 16;

/** The lower layers, once for all examples (in chunks, to bound the run's memory): the hook sites that every training step starts from. */
export async function cacheExamples(runner: Pick<Gemma2Runner, 'hookActivations'>, ids: number[][]): Promise<CachedExample[]> {
  const cached: CachedExample[] = [];
  for (let start = 0; start < ids.length; ) {
    let end = start + 1;
    let longest = ids[start].length;
    while (end < ids.length && end - start < CACHE_CHUNK_ROWS && Math.max(longest, ids[end].length) * (end + 1 - start) <= CACHE_CHUNK_TOKENS) longest = Math.max(longest, ids[end++].length);
    const chunk = ids.slice(start, end);
    const sites = await runner.hookActivations(chunk);
    chunk.forEach((row, i) => cached.push({ ids: row, residual: sites[i].residual, y: sites[i].y }));
    start = end;
  }
  return cached;
}
