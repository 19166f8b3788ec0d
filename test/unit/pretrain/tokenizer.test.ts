/**
 * The byte-level BPE trainer against a plain re-implementation (all pair counts recomputed before
 * every merge), and the tokenizer files it writes as @huggingface/transformers loads them offline:
 * Gemma's special ids, exact round trips of arbitrary UTF-8 text, the chat template.
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { before, test } from 'node:test';
import { BYTE_SYMBOLS, byteLevelWords, trainBpe } from '../../../src/engine/pretrain/bpeTrainer';
import { BOS_ID, EOS_ID, PAD_ID, SPECIAL_TOKENS, tokenizerFiles } from '../../../src/engine/pretrain/tokenizerFiles';
import { loadTokenizer, type Tokenizer } from '../../../src/engine/tokenizer';
import { testTempDir } from '../../fixtures/tempDir';
import { seededNormals } from '../../reference/randomGemma2';

const TEXTS = [
  'In the beginning was the word, and the word was with thee.',
  'Thou shalt not covet thy neighbour\'s house; thou shalt not covet.',
  'Der Hund läuft über die Straße, und die Katze schläft.',
  'the the the then there these, 1234 5678!!',
];

/** Textbook BPE: count every adjacent pair of every word, merge the most frequent (ties: earliest-made symbols), repeat. */
function plainBpe(texts: string[], size: number): string[] {
  const counts = new Map<string, number>();
  for (const t of texts) for (const w of byteLevelWords(t)) counts.set(w, (counts.get(w) ?? 0) + 1);
  const symbols = [...BYTE_SYMBOLS];
  const words = [...counts].map(([w, c]) => ({ syms: [...w].map((ch) => symbols.indexOf(ch)), c }));
  const merges: string[] = [];
  while (symbols.length < size) {
    const pairs = new Map<string, number>();
    for (const { syms, c } of words) for (let i = 0; i + 1 < syms.length; i++) pairs.set(`${syms[i]},${syms[i + 1]}`, (pairs.get(`${syms[i]},${syms[i + 1]}`) ?? 0) + c);
    let best: [number, number] | null = null;
    let bestCount = 1; // pairs seen once are not merged (the trainer's default minimum frequency is 2)
    for (const [k, c] of pairs) {
      const [a, b] = k.split(',').map(Number);
      if (c > bestCount || (c === bestCount && best && (a < best[0] || (a === best[0] && b < best[1])))) [best, bestCount] = [[a, b], c];
    }
    if (!best) break;
    const [a, b] = best;
    symbols.push(symbols[a] + symbols[b]);
    merges.push(`${symbols[a]} ${symbols[b]}`);
    for (const w of words) {
      const out: number[] = [];
      for (let i = 0; i < w.syms.length; i++) {
        if (i + 1 < w.syms.length && w.syms[i] === a && w.syms[i + 1] === b) {
          out.push(symbols.length - 1);
          i++;
        } else out.push(w.syms[i]);
      }
      w.syms = out;
    }
  }
  return merges;
}

test('the trainer makes the same merges as textbook BPE, and stops when no pair repeats', () => {
  const trained = trainBpe(TEXTS, { size: 256 + 40 });
  assert.deepEqual(trained.merges, plainBpe(TEXTS, 256 + 40));
  assert.equal(trained.tokens.length, 256 + trained.merges.length);
  const all = trainBpe(TEXTS, { size: 256 + 10_000 });
  assert.ok(all.merges.length < 10_000, 'a small corpus runs out of repeated pairs');
  assert.deepEqual(all.merges, plainBpe(TEXTS, 256 + 10_000));
});

let dir: string;
let tokenizer: Tokenizer;
before(async () => {
  dir = testTempDir('bpe-tokenizer');
  const files = tokenizerFiles(trainBpe([...TEXTS, ...TEXTS], { size: 400 }), 128);
  await writeFile(path.join(dir, 'tokenizer.json'), files.tokenizerJson);
  await writeFile(path.join(dir, 'tokenizer_config.json'), files.tokenizerConfigJson);
  tokenizer = await loadTokenizer(dir);
});

test('transformers loads the files with Gemma\'s special ids', () => {
  assert.equal(tokenizer.bosId, BOS_ID);
  assert.ok(tokenizer.eosIds.includes(EOS_ID));
  assert.ok(tokenizer.eosIds.includes(SPECIAL_TOKENS.indexOf('<end_of_turn>')));
  assert.equal(tokenizer.decode([PAD_ID]), '<pad>');
  const ids = tokenizer.encode('the word');
  assert.equal(ids[0], BOS_ID, 'encode prepends <bos>');
  assert.ok(ids.length < 1 + 'the word'.length, 'merges are used');
});

test('any UTF-8 text round-trips exactly, trained characters or not', () => {
  const normal = seededNormals(3);
  const alphabet = ['a', 'Z', ' ', '  ', '\n', '\r\n', '\t', 'ä', 'ß', '€', '中', '🤖', '\u0000', '\u00a0', "'s", '...', '<', 'bos>', '1', '\u202e'];
  const samples = [...TEXTS, ' leading space', 'trailing spaces   ', 'é vs e\u0301 (not normalised)'];
  for (let k = 0; k < 200; k++) samples.push(Array.from({ length: 1 + (k % 30) }, () => alphabet[Math.floor(Math.abs(normal()) * 1000) % alphabet.length]).join(''));
  for (const text of samples) {
    const ids = tokenizer.encode(text, { addBos: false });
    assert.ok(ids.every((id) => id >= SPECIAL_TOKENS.length || text.includes(SPECIAL_TOKENS[id])), `${JSON.stringify(text)} encodes to a special token`);
    assert.equal(tokenizer.decode(ids), text, `round trip of ${JSON.stringify(text)}`);
  }
});

test('the chat template wraps turns in Gemma\'s markers', () => {
  const text = tokenizer.applyChatTemplate([{ role: 'user', content: 'Hello' }]);
  assert.equal(text, '<bos><start_of_turn>user\nHello<end_of_turn>\n<start_of_turn>model\n');
  const ids = tokenizer.encode(text);
  assert.equal(ids.filter((id) => id === BOS_ID).length, 1, 'the template\'s <bos> is not doubled');
});
