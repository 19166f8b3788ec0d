/**
 * Documents as one packed token stream, `<bos> text <eos>` after each other, cut into windows of
 * `context` predictions: a window holds context + 1 tokens, predicts tokens 1..context from the ones
 * before, and the next evaluation window starts where this one's predictions end, so that every
 * token but the first is predicted exactly once.
 */
import type { Tokenizer } from '../tokenizer';

export interface TokenStream {
  ids: Int32Array;
  /** 1 where the token is document text (counted in bits per character), 0 for <bos>/<eos>. */
  isText: Uint8Array;
  /** Code points of all documents' text. */
  chars: number;
}

export function tokenStream(documents: readonly string[], tokenizer: Pick<Tokenizer, 'encode' | 'bosId'>, eosId: number): TokenStream {
  const ids: number[] = [];
  const isText: number[] = [];
  let chars = 0;
  for (const doc of documents) {
    const text = tokenizer.encode(doc, { addBos: false });
    ids.push(tokenizer.bosId, ...text, eosId);
    isText.push(0, ...text.map(() => 1), 0);
    chars += [...doc].length;
  }
  return { ids: Int32Array.from(ids), isText: Uint8Array.from(isText), chars };
}

/** A batch of windows as the pretraining graph takes them: [rows, context] each. */
export interface WindowBatch {
  rows: number;
  context: number;
  inputIds: BigInt64Array;
  targetIds: BigInt64Array;
  /** 1 where the target is document text. */
  targetIsText: Uint8Array;
}

/** The windows starting at `starts` (each start + context must be within the stream). */
export function windowBatch(stream: TokenStream, starts: readonly number[], context: number): WindowBatch {
  const n = starts.length * context;
  const batch: WindowBatch = {
    rows: starts.length,
    context,
    inputIds: new BigInt64Array(n),
    targetIds: new BigInt64Array(n),
    targetIsText: new Uint8Array(n),
  };
  starts.forEach((s, r) => {
    for (let t = 0; t < context; t++) {
      batch.inputIds[r * context + t] = BigInt(stream.ids[s + t]);
      batch.targetIds[r * context + t] = BigInt(stream.ids[s + t + 1]);
      batch.targetIsText[r * context + t] = stream.isText[s + t + 1];
    }
  });
  return batch;
}

/**
 * Start offsets of evaluation windows covering every prediction of the stream: consecutive windows,
 * then one ending at the stream's end whose first predictions repeat the previous window's (the
 * evaluator counts a prediction once, see `firstNewPrediction`).
 */
export function evaluationStarts(stream: TokenStream, context: number): number[] {
  const last = stream.ids.length - 1 - context;
  if (last < 0) return [];
  const starts: number[] = [];
  for (let s = 0; s < last; s += context) starts.push(s);
  starts.push(last);
  return starts;
}

/** In window `k` of `starts`, the index of the first prediction not already made by window k-1. */
export function firstNewPrediction(starts: readonly number[], k: number, context: number): number {
  return k === 0 ? 0 : Math.max(0, starts[k - 1] + context - starts[k]);
}
