/**
 * Rows of different lengths as one left-padded batch, and the steering inputs per row, as the
 * forward graph takes them. Position ids count a row's real tokens (0 for its first), as
 * transformers' generate does, so that padding a row does not change its outputs.
 */
import { InputError } from '../errors';
import type { Gemma2Config } from '../model/types';
import { STEERING_LIMITS } from '../../protocol';
import { LIMITS, checkLimit } from '../limits';

/** The plane, its strength and its positions for one row of a run. */
export interface SteerRow {
  /** The plane's direction [hidden], used as given. */
  n: ArrayLike<number>;
  b: number;
  alpha: number;
  /**
   * Which of the row's new positions the hook changes: 'all' (default), 'last', or one flag per
   * new position.
   */
  positions?: 'all' | 'last' | ArrayLike<boolean | number>;
}

/** A left-padded batch: [batch * seq] arrays, row-major. */
export interface PaddedRows {
  batch: number;
  seq: number;
  ids: BigInt64Array;
  /** 1 = token, 0 = padding. */
  mask: BigInt64Array;
  positions: BigInt64Array;
  /** Padding before each row's first token. */
  offsets: number[];
}

/** Checks every id against the vocabulary. */
export function checkIds(ids: ArrayLike<number>, config: Gemma2Config, what: string): void {
  for (let t = 0; t < ids.length; t++) {
    const id = ids[t];
    if (!Number.isInteger(id) || id < 0 || id >= config.vocabSize) {
      throw new InputError(`${what}: token id ${id} at position ${t} is not in [0, ${config.vocabSize - 1}]`);
    }
  }
}

/** Refuses a row of `tokens` positions beyond the model's context. */
export function checkContext(tokens: number, config: Gemma2Config): void {
  const context = config.maxPositionEmbeddings;
  if (tokens > context) throw new InputError(`a row of ${tokens} token ids is longer than the model's context of ${context} tokens (max_position_embeddings in config.json)`);
}

/**
 * Logits that a run scoring every position of `batch` rows of `seq` tokens computes at once, checked
 * against LIMITS.logits: the memory of a training step or an NLL, whatever the input's length.
 */
export function checkScoredLogits(batch: number, seq: number, config: Gemma2Config, what: string): void {
  checkLimit(LIMITS.logits, `${what} (${batch} row${batch === 1 ? '' : 's'} x ${seq} tokens x ${config.vocabSize} vocabulary): its logits`, batch * seq * config.vocabSize);
}

/** Left-pads rows (token ids) to the longest; `firstPosition[row]` is the position id of its first token. */
export function padRowsLeft(rows: readonly ArrayLike<number>[], config: Gemma2Config, firstPosition?: readonly number[]): PaddedRows {
  if (rows.length === 0) throw new InputError('a batch needs at least one row');
  rows.forEach((row, i) => {
    if (row.length === 0) throw new InputError(`row ${i} has no token ids`);
    checkIds(row, config, `row ${i}`);
  });
  const batch = rows.length;
  let seq = 0;
  for (const row of rows) seq = Math.max(seq, row.length);
  checkContext(seq + Math.max(0, ...(firstPosition ?? [])), config);
  const ids = new BigInt64Array(batch * seq).fill(BigInt(config.padTokenId));
  const mask = new BigInt64Array(batch * seq);
  const positions = new BigInt64Array(batch * seq);
  const offsets = rows.map((row, i) => {
    const offset = seq - row.length;
    const start = firstPosition?.[i] ?? 0;
    for (let t = 0; t < row.length; t++) {
      ids[i * seq + offset + t] = BigInt(row[t]);
      mask[i * seq + offset + t] = 1n;
      positions[i * seq + offset + t] = BigInt(start + t);
    }
    return offset;
  });
  return { batch, seq, ids, mask, positions, offsets };
}

/**
 * Whether rows are copies of one prompt of two or more tokens whose steering changes at most its last
 * position: then every other position computes the same numbers in every row.
 */
export function sharesPrompt(rows: readonly ArrayLike<number>[], steer: readonly (SteerRow | null | undefined)[] | undefined): boolean {
  const [first] = rows;
  if (rows.length < 2 || first.length < 2 || (steer && steer.length !== rows.length)) return false;
  if (steer?.some((row) => row && row.alpha !== 0 && row.positions !== 'last')) return false;
  return rows.every((row) => row.length === first.length && Array.from(row).every((id, t) => id === first[t]));
}

/** Flags per position of a row of `length` new positions. */
export function steeredPositions(positions: SteerRow['positions'], length: number, what: string): boolean[] {
  if (positions === undefined || positions === 'all') return new Array<boolean>(length).fill(true);
  if (positions === 'last') return Array.from({ length }, (_, t) => t === length - 1);
  if (positions.length !== length) throw new InputError(`${what}: ${positions.length} steered-position flags for ${length} positions`);
  return Array.from(positions, Boolean);
}

/** The plane inputs of a batch, per row: n [batch*hidden], b, alpha [batch], and steer flags [batch*seq] (left-padded). */
export interface SteerFeeds {
  n: Float64Array;
  b: Float64Array;
  alpha: Float64Array;
  steered: Uint8Array;
}

/** Rows without a plane, or at alpha 0 (the unsteered model), get n = 0 and no steered positions: the hook is the identity there. */
export function steerFeeds(steer: readonly (SteerRow | null | undefined)[] | undefined, lengths: readonly number[], seq: number, hidden: number): SteerFeeds {
  const batch = lengths.length;
  if (steer && steer.length !== batch) throw new InputError(`${steer.length} steering rows for a batch of ${batch}`);
  const feeds: SteerFeeds = { n: new Float64Array(batch * hidden), b: new Float64Array(batch), alpha: new Float64Array(batch), steered: new Uint8Array(batch * seq) };
  steer?.forEach((row, i) => {
    const what = `steering row ${i}`;
    if (!row || checkAlpha(row.alpha, `${what}: alpha`) === 0) return;
    if (row.n.length !== hidden) throw new InputError(`${what}: the plane has ${row.n.length} entries, expected the model's hidden size ${hidden}`);
    for (let k = 0; k < hidden; k++) feeds.n[i * hidden + k] = finite(row.n[k], `${what}: n[${k}]`);
    feeds.b[i] = checkOffset(row.b, `${what}: b`);
    feeds.alpha[i] = row.alpha;
    const flags = steeredPositions(row.positions, lengths[i], what);
    const offset = seq - lengths[i];
    flags.forEach((f, t) => (feeds.steered[i * seq + offset + t] = f ? 1 : 0));
  });
  return feeds;
}

export function finite(x: number, what: string): number {
  if (typeof x !== 'number' || !Number.isFinite(x)) throw new InputError(`${what} must be a finite number, got ${x}`);
  return x;
}

/** A steering strength within STEERING_LIMITS.maxAbsAlpha. */
export function checkAlpha(alpha: number, what: string): number {
  const max = STEERING_LIMITS.maxAbsAlpha;
  if (Math.abs(finite(alpha, what)) > max) throw new InputError(`${what} must be in [-${max}, ${max}], got ${alpha}`);
  return alpha;
}

/** A plane's offset b = tanh(theta): in (-1, 1). */
export function checkOffset(b: number, what: string): number {
  if (Math.abs(finite(b, what)) >= 1) throw new InputError(`${what} must be in (-1, 1) (it is tanh(theta)), got ${b}`);
  return b;
}
