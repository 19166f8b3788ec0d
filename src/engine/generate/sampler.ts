/**
 * Drawing the next token from a row's soft-capped logits: temperature (0 = greedy), then top-k, then
 * top-p on the distribution renormalised over the top k, as transformers' sampling warpers do.
 * Candidates are ordered by logit, ties to the smaller id.
 *
 * Cost over a vocabulary of V (~262k) ids: a pass to check the logits and find the maximum, then
 * - temperature only: a pass computing the weights and a pass to draw;
 * - top-k: one pass through a min-heap of the k best so far, O(V log k) at worst but close to O(V)
 *   (an id below the heap's worst costs one comparison), then a sort of those k;
 * - top-p without top-k: passes collecting the ids above a falling weight threshold until they hold
 *   p of the mass, then a native sort of only their logits; a flat distribution with a large p sorts
 *   most of the vocabulary, O(V log V), which is what a full sort costs.
 */
import { InputError } from '../errors';
import type { SeededRandom } from '../random';

export interface SamplerSettings {
  /** 0 = greedy (argmax). */
  temperature: number;
  /** 0 = off. */
  topK: number;
  /** 1 = off. */
  topP: number;
}

/** Checks sampler settings from untrusted input. */
export function checkSamplerSettings(settings: SamplerSettings): void {
  const { temperature, topK, topP } = settings;
  if (typeof temperature !== 'number' || !Number.isFinite(temperature) || temperature < 0) {
    throw new InputError(`temperature must be a finite number >= 0 (0 = greedy), got ${temperature}`);
  }
  if (typeof topK !== 'number' || !Number.isInteger(topK) || topK < 0) throw new InputError(`topK must be an integer >= 0 (0 = off), got ${topK}`);
  if (typeof topP !== 'number' || !Number.isFinite(topP) || topP <= 0 || topP > 1) throw new InputError(`topP must be in (0, 1] (1 = off), got ${topP}`);
}

/**
 * One token id from `logits` (one row, the whole vocabulary). Draws one uniform from `random` unless
 * greedy. A non-finite logit is a failure of the model run, not of the user's input: a plain Error
 * whose message starts with `what`.
 */
export function sampleToken(logits: ArrayLike<number>, settings: SamplerSettings, random: SeededRandom, what = 'logits'): number {
  const vocab = logits.length;
  if (vocab === 0) throw new Error(`${what}: no logits to sample from`);
  let best = 0;
  for (let id = 0; id < vocab; id++) {
    const x = logits[id];
    if (!Number.isFinite(x)) throw new Error(`${what}: the model produced a non-finite logit (${x}) for token id ${id}`);
    if (x > logits[best]) best = id;
  }
  if (settings.temperature === 0 || settings.topK === 1) return best;

  // Weights exp((x - max) / T) are at most 1, so no exponential overflows, whatever T (log-sum-exp's shift).
  const scale = 1 / settings.temperature;
  const shift = logits[best];
  const weightsOf = (ids: ArrayLike<number>) => {
    const w = new Float64Array(ids.length);
    for (let i = 0; i < ids.length; i++) w[i] = Math.exp((logits[ids[i]] - shift) * scale);
    return w;
  };
  if (settings.topK > 0 && settings.topK < vocab) {
    const ids = topKIds(logits, settings.topK);
    const weights = weightsOf(ids);
    const kept = settings.topP < 1 ? nucleusLength(weights, settings.topP) : ids.length;
    return ids[draw(weights.subarray(0, kept), random)];
  }
  const weights = new Float64Array(vocab);
  for (let id = 0; id < vocab; id++) weights[id] = Math.exp((logits[id] - shift) * scale);
  if (settings.topP >= 1) return draw(weights, random);
  const ids = nucleus(logits, weights, settings.topP * sum(weights), (x) => Math.exp((x - shift) * scale));
  return ids[draw(weightsOf(ids), random)];
}

/** True when id a comes before id b: a larger logit, or an equal one and a smaller id. */
function before(logits: ArrayLike<number>, a: number, b: number): boolean {
  return logits[a] > logits[b] || (logits[a] === logits[b] && a < b);
}

/** The k best ids in order, through a min-heap whose root is the worst of the best so far. */
function topKIds(logits: ArrayLike<number>, k: number): Int32Array {
  const heap = new Int32Array(k);
  const siftDown = (at: number) => {
    let i = at;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= k) return;
      const worse = left + 1 < k && before(logits, heap[left], heap[left + 1]) ? left + 1 : left;
      if (!before(logits, heap[i], heap[worse])) return;
      const t = heap[i];
      heap[i] = heap[worse];
      heap[worse] = t;
      i = worse;
    }
  };
  for (let id = 0; id < k; id++) heap[id] = id;
  for (let i = (k >> 1) - 1; i >= 0; i--) siftDown(i);
  const vocab = logits.length;
  for (let id = k; id < vocab; id++) {
    // A later id with an equal logit is never before the root: only a larger logit gets in.
    if (logits[id] > logits[heap[0]]) {
      heap[0] = id;
      siftDown(0);
    }
  }
  return heap.sort((a, b) => (before(logits, a, b) ? -1 : 1));
}

/**
 * The nucleus without top-k: the ids (in id order) of the shortest run, in the order by logit, whose
 * weight reaches `needed`. The ids whose weight is at least a threshold are a prefix of that order, so
 * the threshold falls until they hold enough; then only their logits are sorted (natively, no
 * comparator) to find the cut: the smallest logit the nucleus needs, and how many ids at it.
 */
function nucleus(logits: ArrayLike<number>, weights: Float64Array, needed: number, weightOf: (logit: number) => number): Int32Array {
  for (let threshold = 1e-3; ; threshold = threshold > 1e-300 ? threshold * 1e-3 : 0) {
    let mass = 0;
    let count = 0;
    for (let id = 0; id < weights.length; id++) {
      if (weights[id] >= threshold) {
        mass += weights[id];
        count++;
      }
    }
    if (mass < needed && threshold > 0) continue;
    const values = new Float64Array(count);
    for (let id = 0, i = 0; id < weights.length; id++) if (weights[id] >= threshold) values[i++] = logits[id];
    values.sort();
    let first = count;
    for (mass = 0; first > 0 && (first === count || mass < needed); ) mass += weightOf(values[--first]);
    const cut = values[first];
    let tiesAtCut = 0;
    for (let i = first; i < count && values[i] === cut; i++) tiesAtCut++;
    const ids: number[] = [];
    for (let id = 0; id < logits.length; id++) {
      if (logits[id] > cut || (logits[id] === cut && tiesAtCut-- > 0)) ids.push(id);
    }
    return Int32Array.from(ids);
  }
}

/** How many of the ordered `weights` make the shortest prefix with `p` of their mass; at least 1. */
function nucleusLength(weights: Float64Array, p: number): number {
  const needed = p * sum(weights);
  let mass = 0;
  let count = 0;
  while (count < weights.length && (count === 0 || mass < needed)) mass += weights[count++];
  return count;
}

function sum(xs: Float64Array): number {
  let s = 0;
  for (let i = 0; i < xs.length; i++) s += xs[i];
  return s;
}

/** Inverse-CDF draw: the index of a candidate, with probability proportional to its weight. */
function draw(weights: Float64Array, random: SeededRandom): number {
  const total = sum(weights);
  // uniform() is in (0, 1]: the target is above 0, so a candidate of weight 0 is never chosen.
  const target = random.uniform() * total;
  let cumulative = 0;
  let last = 0;
  for (let i = 0; i < weights.length; i++) {
    if (weights[i] === 0) continue;
    cumulative += weights[i];
    last = i;
    if (cumulative >= target) break;
  }
  return last;
}
