/**
 * Hidden-state comparison: one token position in each of two prompts (for example a placeholder word and
 * a real city name), and the cosine similarity of their residual streams after the embedding and after
 * every layer, without and with a plane. The plane's hook runs at its layer on both prompts, at every
 * position or at the compared token only.
 */
import { InputError } from '../errors';
import type { Gemma2Runner } from '../gemma2/runner';
import type { Tokenizer } from '../tokenizer';
import { cosineSimilarity } from './statistics';

export interface ComparedPlane {
  layer: number;
  n: ArrayLike<number>;
  b: number;
  alpha: number;
  /** `all` (default): the hook at every position of both prompts; `token`: at the compared tokens only. */
  positions?: 'all' | 'token';
}

export interface StateComparisonRequest {
  promptA: string;
  promptB: string;
  /** Index into each prompt's token ids (BOS is 0); negative counts from the end (-1 = last). */
  tokenA: number;
  tokenB: number;
  plane?: ComparedPlane;
  chatTemplate?: boolean;
}

export interface ComparedToken {
  /** The index in the prompt's ids (resolved when given from the end). */
  index: number;
  id: number;
  text: string;
}

export interface StateSimilarity {
  /** 0: after the embedding; k: after layer k - 1. */
  state: number;
  /** The decoder layer the state follows; null for the embedding. */
  layer: number | null;
  cosine: number;
  /** With a plane. */
  cosineSteered?: number;
}

export interface StateComparison {
  tokenA: ComparedToken;
  tokenB: ComparedToken;
  states: StateSimilarity[];
}

export type ComparisonRunner = Pick<Gemma2Runner, 'folder' | 'hookLayer' | 'hiddenStates'>;

export async function compareHiddenStates(runner: ComparisonRunner, tokenizer: Tokenizer, request: StateComparisonRequest): Promise<StateComparison> {
  const encode = (prompt: string, what: string) => {
    if (typeof prompt !== 'string' || prompt.length === 0) throw new InputError(`${what} is empty`);
    return tokenizer.encode(request.chatTemplate ? tokenizer.applyChatTemplate([{ role: 'user', content: prompt }]) : prompt, { addBos: true });
  };
  const ids = [encode(request.promptA, 'prompt A'), encode(request.promptB, 'prompt B')];
  const tokens = [tokenIndex(request.tokenA, ids[0], 'token A'), tokenIndex(request.tokenB, ids[1], 'token B')];
  const plane = request.plane;
  if (plane && plane.layer !== runner.hookLayer) throw new InputError(`the plane steers layer ${plane.layer}, but the model was opened with its hook at layer ${runner.hookLayer}`);
  // One batched run: both prompts unsteered, then (with a plane) both steered.
  const steer = plane && ids.map((row, r) => ({ n: plane.n, b: plane.b, alpha: plane.alpha, positions: plane.positions === 'token' ? row.map((_, t) => t === tokens[r]) : ('all' as const) }));
  const states = await runner.hiddenStates(steer ? [...ids, ...ids] : ids, { steer: steer ? [null, null, ...steer] : undefined });
  const hidden = runner.folder.config.hiddenSize;
  const at = (row: number, k: number) => states[row].get(k)!.subarray(tokens[row % 2] * hidden, (tokens[row % 2] + 1) * hidden);
  const cosines = (first: number) => [...states[first].keys()].map((k) => cosineSimilarity(at(first, k), at(first + 1, k)));
  const plain = cosines(0);
  const steered = steer ? cosines(2) : undefined;
  const describe = (r: number): ComparedToken => ({ index: tokens[r], id: ids[r][tokens[r]], text: tokenizer.decode([ids[r][tokens[r]]]) });
  return {
    tokenA: describe(0),
    tokenB: describe(1),
    states: plain.map((cosine, k) => ({ state: k, layer: k === 0 ? null : k - 1, cosine, ...(steered ? { cosineSteered: steered[k] } : {}) })),
  };
}

/** A token index into `ids`, negative from the end. */
function tokenIndex(index: number, ids: readonly number[], what: string): number {
  const resolved = index < 0 ? ids.length + index : index;
  if (!Number.isInteger(index) || resolved < 0 || resolved >= ids.length) {
    throw new InputError(`${what}: position ${index} is outside the prompt's ${ids.length} tokens (0 is BOS; -1 is the last token)`);
  }
  return resolved;
}
