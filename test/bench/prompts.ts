/** The benchmark's token ids: seeded, so that our engine and llama.cpp read exactly the same prompts. */
import { SeededRandom } from '../../src/engine/random';

/** `count` ids: BOS (2) and then seeded ids in [3, 20000), inside every Gemma vocabulary. */
export function benchIds(count: number, seed: number): number[] {
  const rng = new SeededRandom(seed);
  return [2, ...Array.from({ length: count - 1 }, () => rng.integer(3, 20000))];
}

/** The shared workload: one prefill prompt, decode after a short prompt, and a greedy continuation. */
export const WORKLOAD = {
  /** Issue 10's prefill length. */
  prefillTokens: 128,
  decodePromptTokens: 16,
  decodeSteps: 32,
  greedyTokens: 16,
} as const;

/** The decode prompt of row `row` of a batch. */
export function decodePrompt(row: number): number[] {
  return benchIds(WORKLOAD.decodePromptTokens, 10 + row);
}

/** The token fed at decode step `step` of row `row` (fixed, so that sampling plays no part in the timing). */
export function decodeToken(step: number, row: number): number {
  return 3 + ((step + row) % 1000);
}

export const PREFILL_PROMPT = benchIds(WORKLOAD.prefillTokens, 1);
export const GREEDY_PROMPT = benchIds(WORKLOAD.decodePromptTokens, 3);
