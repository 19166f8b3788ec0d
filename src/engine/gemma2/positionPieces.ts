/**
 * Long inputs through the forward graph in pieces of positions: the first piece runs from an empty
 * cache, each next one with the KV cache of those before it (as a decode step does), so the results
 * are the one-shot run's while one run's memory is bounded by configuration (LIMITS.runPositions, and
 * LIMITS.logits where every position is scored), not by the input.
 *
 * Every row is cut at the same columns of the left-padded batch: a padding slot stays masked whichever
 * piece holds it, and every slot keeps the index it has in the one-shot run, which the causal and
 * sliding-window masks compare (layers.attentionMasks).
 */
import type { Gemma2Config } from '../model/types';
import { checkLimit, LIMITS } from '../limits';
import type { HostTensor } from '../runtime/session';
import { checkScoredLogits, steerFeeds, type PaddedRows, type SteerRow } from './batchRows';
import type { KvCache } from './runner';

export type RunOutputs = Record<string, HostTensor>;

/** What a run in pieces needs of the runner. */
export interface ForwardPasses {
  /** One forward run of `rows` after the positions in `cache`. */
  run(rows: PaddedRows, cache: KvCache, steer: readonly (SteerRow | null | undefined)[] | undefined, fetches: string[], targets?: BigInt64Array): Promise<RunOutputs>;
  /** The cache with a run's keys and values added, keeping `reserve` slots free for the pieces to come. */
  extend(rows: PaddedRows, cache: KvCache, out: RunOutputs, reserve: number): KvCache;
  /** The outputs that hold a run's keys and values. */
  presentNames: string[];
}

export interface PieceRun {
  padded: PaddedRows;
  /** Empty, with the rows' residual-stream edits. */
  cache: KvCache;
  steer?: readonly (SteerRow | null | undefined)[];
  /** Positions per piece. */
  width: number;
  fetches: string[];
  /** Scores every position of each piece (token_nll): the next token of each. */
  scored?: boolean;
}

/** One piece's columns [start, start + rows.seq) of the padded batch, and its run's outputs. */
export interface Piece {
  start: number;
  rows: PaddedRows;
  out: RunOutputs;
}

/**
 * Positions per piece for a batch of `batch` rows: LIMITS.runPositions over the rows, and with `scored`
 * no more than LIMITS.logits holds at the vocabulary. A batch over a budget at one position is refused.
 */
export function pieceWidth(batch: number, config: Gemma2Config, scored: boolean, what: string): number {
  checkLimit(LIMITS.runPositions, `${what} (${batch} rows at one position each): its positions`, batch);
  const width = Math.floor(LIMITS.runPositions.value / batch);
  if (!scored) return width;
  checkScoredLogits(batch, 1, config, `${what} at one position per row`);
  return Math.min(width, Math.floor(LIMITS.logits.value / (batch * config.vocabSize)));
}

/** Runs the batch piece by piece, in order; `onPiece` takes each piece's outputs before the next one runs. */
export async function runInPieces(passes: ForwardPasses, run: PieceRun, config: Gemma2Config, onPiece: (piece: Piece) => void): Promise<void> {
  const { padded, width } = run;
  const rowLengths = padded.offsets.map((o) => padded.seq - o);
  // The steered flags of the whole rows (checked once), cut per piece: 'last' means the row's last position, not a piece's.
  const steered = run.steer && steerFeeds(run.steer, rowLengths, padded.seq, config.hiddenSize).steered;
  let cache = run.cache;
  for (let start = 0; start < padded.seq; start += width) {
    const end = Math.min(padded.seq, start + width);
    const rows = columns(padded, start, end);
    const steer =
      steered &&
      run.steer?.map((row, i) => row && { ...row, positions: steered.subarray(i * padded.seq + Math.max(start, padded.offsets[i]), i * padded.seq + end) });
    const more = end < padded.seq;
    const out = await passes.run(rows, cache, steer, more ? [...run.fetches, ...passes.presentNames] : run.fetches, run.scored ? nextTokens(padded, start, end) : undefined);
    onPiece({ start, rows, out });
    if (more) cache = passes.extend(rows, cache, out, padded.seq - end);
  }
}

/** The columns [start, end) of a padded batch (the batch itself when they are all of it). */
function columns(padded: PaddedRows, start: number, end: number): PaddedRows {
  if (start === 0 && end === padded.seq) return padded;
  const seq = end - start;
  const take = (data: BigInt64Array) => {
    const part = new BigInt64Array(padded.batch * seq);
    for (let i = 0; i < padded.batch; i++) part.set(data.subarray(i * padded.seq + start, i * padded.seq + end), i * seq);
    return part;
  };
  return {
    batch: padded.batch,
    seq,
    ids: take(padded.ids),
    mask: take(padded.mask),
    positions: take(padded.positions),
    offsets: padded.offsets.map((o) => Math.min(seq, Math.max(0, o - start))),
  };
}

/** The token each position of columns [start, end) predicts (0 at the last position, which predicts none). */
function nextTokens(padded: PaddedRows, start: number, end: number): BigInt64Array {
  const seq = end - start;
  const targets = new BigInt64Array(padded.batch * seq);
  for (let i = 0; i < padded.batch; i++) {
    for (let t = start; t < end && t + 1 < padded.seq; t++) targets[i * seq + t - start] = padded.ids[i * padded.seq + t + 1];
  }
  return targets;
}
