/**
 * A byte-level BPE trainer (GPT-2's scheme, as Hugging Face tokenizers' ByteLevel + BPE read it).
 * No npm library trains one offline: `tokenizers` (the Rust bindings) exposes no trainer options,
 * and the pure-JS tokenizers only encode.
 *
 * Text is split into words by GPT-2's pattern (the ByteLevel pre-tokenizer's), each word's UTF-8
 * bytes are written as printable characters (bytes_to_unicode), and the most frequent adjacent pair
 * of symbols is merged until the vocabulary is full. Every byte is a base symbol, so any UTF-8 text
 * round-trips exactly and no unknown token is ever needed.
 */

/** GPT-2's pre-tokenizer pattern, the one the ByteLevel pre-tokenizer applies with use_regex. */
export const BYTE_LEVEL_PATTERN = /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu;

/**
 * GPT-2's bytes_to_unicode: printable bytes stand for themselves, the others (controls, space,
 * some Latin-1) for code points from 256 up, so that no symbol is whitespace or a control.
 */
export const BYTE_SYMBOLS: readonly string[] = (() => {
  const printable = (b: number) => (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
  let next = 256;
  return Array.from({ length: 256 }, (_, b) => String.fromCodePoint(printable(b) ? b : next++));
})();

export interface BpeVocabulary {
  /** Token strings (byte symbols) in id order after the special tokens: the 256 bytes, then one per merge. */
  tokens: string[];
  /** The merges in rank order, as the two symbols joined by one space. */
  merges: string[];
}

export interface BpeTrainOptions {
  /** Byte symbols plus merges (special tokens not counted). At least 256. */
  size: number;
  /** Pairs seen fewer times than this are never merged (stops early on a small corpus). */
  minFrequency?: number;
}

const utf8 = new TextEncoder();

/** Words of `text` as the pre-tokenizer splits them, in byte symbols. */
export function byteLevelWords(text: string): string[] {
  const words: string[] = [];
  for (const m of text.matchAll(BYTE_LEVEL_PATTERN)) {
    let word = '';
    for (const b of utf8.encode(m[0])) word += BYTE_SYMBOLS[b];
    words.push(word);
  }
  return words;
}

/** Trains the merges on `texts`. Deterministic: ties go to the pair whose symbols were made first. */
export function trainBpe(texts: Iterable<string>, options: BpeTrainOptions): BpeVocabulary {
  if (!Number.isInteger(options.size) || options.size < 256) throw new RangeError(`BPE size must be an integer >= 256, got ${options.size}`);
  const minFrequency = options.minFrequency ?? 2;

  // Distinct words with their counts, as arrays of symbol ids (0..255 are the bytes).
  const counts = new Map<string, number>();
  for (const text of texts) for (const w of byteLevelWords(text)) counts.set(w, (counts.get(w) ?? 0) + 1);
  const symbols = [...BYTE_SYMBOLS];
  const symbolOf = new Map(symbols.map((s, i) => [s, i]));
  const words: number[][] = [];
  const freq: number[] = [];
  for (const [w, c] of counts) {
    words.push([...w].map((ch) => symbolOf.get(ch) as number));
    freq.push(c);
  }

  // Pair statistics: pair key -> total count, and pair key -> the words it occurs in.
  const pairKey = (a: number, b: number) => a * 0x100000 + b;
  const pairCount = new Map<number, number>();
  const pairWords = new Map<number, Set<number>>();
  const note = (a: number, b: number, w: number, delta: number) => {
    const k = pairKey(a, b);
    pairCount.set(k, (pairCount.get(k) ?? 0) + delta);
    if (delta > 0) {
      let set = pairWords.get(k);
      if (!set) pairWords.set(k, (set = new Set()));
      set.add(w);
    }
  };
  words.forEach((syms, w) => {
    for (let i = 0; i + 1 < syms.length; i++) note(syms[i], syms[i + 1], w, freq[w]);
  });

  const merges: string[] = [];
  while (symbols.length < options.size) {
    let best = -1;
    let bestCount = minFrequency - 1;
    for (const [k, c] of pairCount) if (c > bestCount || (c === bestCount && best >= 0 && k < best)) [best, bestCount] = [k, c];
    if (best < 0) break;
    const a = Math.floor(best / 0x100000);
    const b = best % 0x100000;
    const merged = symbols.length;
    symbols.push(symbols[a] + symbols[b]);
    merges.push(`${symbols[a]} ${symbols[b]}`);

    for (const w of pairWords.get(best) ?? []) {
      const syms = words[w];
      const f = freq[w];
      for (let i = 0; i + 1 < syms.length; i++) {
        if (syms[i] !== a || syms[i + 1] !== b) continue;
        if (i > 0) {
          note(syms[i - 1], a, w, -f);
          note(syms[i - 1], merged, w, f);
        }
        if (i + 2 < syms.length) {
          note(b, syms[i + 2], w, -f);
          note(merged, syms[i + 2], w, f);
        }
        note(a, b, w, -f);
        syms.splice(i, 2, merged);
      }
    }
    pairCount.delete(best);
    pairWords.delete(best);
  }
  return { tokens: symbols, merges };
}
