/**
 * The tokenizer on the real Gemma tokenizer files (of the tiny model folder), loaded once for the file:
 * round trips, BOS, special ids, the chat template, and streaming decode across split characters.
 */
import { before, test } from 'node:test';
import { testTempDir } from '../fixtures/tempDir';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { InputError } from '../../src/engine/errors';
import { loadTokenizer, type Tokenizer } from '../../src/engine/tokenizer';
import { ensureTinyModel } from '../fixtures/tinyModel';

let tokenizer: Tokenizer;
/** Token ids by their text, read from tokenizer.json directly. */
let ids: Map<string, number>;

before(async () => {
  const dir = await ensureTinyModel();
  tokenizer = await loadTokenizer(dir);
  const json = JSON.parse(readFileSync(path.join(dir, 'tokenizer.json'), 'utf8'));
  ids = new Map(Object.entries(json.model.vocab as Record<string, number>));
  for (const t of json.added_tokens as { id: number; content: string }[]) ids.set(t.content, t.id);
});

const REPLACEMENT = '\uFFFD';
/** Egyptian hieroglyph A001: not in the vocabulary, so it is spelled with four byte tokens <0xF0><0x93><0x80><0x80>. */
const RARE = '\u{13000}';

test('special ids come from the tokenizer files', () => {
  assert.equal(tokenizer.bosId, ids.get('<bos>'));
  assert.ok(tokenizer.eosIds.includes(ids.get('<eos>')!), 'eos');
  assert.ok(tokenizer.eosIds.includes(ids.get('<end_of_turn>')!), '<end_of_turn>');
  assert.equal(tokenizer.vocabSize, [...ids.values()].reduce((a, b) => Math.max(a, b)) + 1);
});

test('text round-trips: ASCII, emoji, CJK, byte-fallback characters, whitespace', () => {
  for (const text of ['Hello, world!', 'emoji 🦀🫠 and 👩‍💻', '日本語のテキスト、中文', `rare ${RARE} glyph`, '  two  spaces\n\ttab ']) {
    const encoded = tokenizer.encode(text);
    assert.equal(encoded[0], tokenizer.bosId, 'BOS first');
    assert.equal(tokenizer.decode(encoded, { skipSpecialTokens: true }), text);
    assert.equal(tokenizer.decode(encoded), `<bos>${text}`);
  }
});

test('BOS follows add_bos_token unless asked otherwise, and is never doubled', () => {
  const plain = tokenizer.encode('hi', { addBos: false });
  assert.notEqual(plain[0], tokenizer.bosId);
  assert.deepEqual(tokenizer.encode('hi'), [tokenizer.bosId, ...plain]);
  assert.deepEqual(tokenizer.encode('<bos>hi'), [tokenizer.bosId, ...plain]);
  assert.equal(tokenizer.decode([]), '');
});

test('the chat template wraps turns in <start_of_turn>/<end_of_turn>', () => {
  const chat = tokenizer.applyChatTemplate([{ role: 'user', content: 'Write a haiku.' }]);
  assert.equal(chat, '<bos><start_of_turn>user\nWrite a haiku.<end_of_turn>\n<start_of_turn>model\n');
  const encoded = tokenizer.encode(chat);
  assert.deepEqual(encoded.slice(0, 2), [tokenizer.bosId, ids.get('<start_of_turn>')], 'one BOS, then the turn marker');
  const closed = tokenizer.applyChatTemplate(
    [
      { role: 'user', content: 'Hi' },
      { role: 'assistant', content: 'Hello' },
    ],
    { addGenerationPrompt: false },
  );
  assert.ok(closed.endsWith('<start_of_turn>model\nHello<end_of_turn>\n'));
  assert.throws(
    () => tokenizer.applyChatTemplate([{ role: 'assistant', content: 'first' }]),
    (e: unknown) => e instanceof InputError && /alternate/.test(e.message),
  );
});

/** Pushes ids one by one; returns the pieces and what flush returns. */
function stream(tokens: number[]): { pieces: string[]; rest: string } {
  const decoder = tokenizer.createStreamDecoder();
  const pieces = tokens.map((id) => decoder.push(id));
  return { pieces, rest: decoder.flush() };
}

test('streaming never emits half a character and adds up to the full decode', () => {
  const text = `Say ${RARE} and 世界 then 🦀 ok`;
  const tokens = tokenizer.encode(text);
  const firstByte = tokens.indexOf(ids.get('<0xF0>')!);
  assert.ok(firstByte > 0, 'the text really contains a character split into byte tokens');
  const { pieces, rest } = stream(tokens);
  assert.equal(pieces.join('') + rest, tokenizer.decode(tokens));
  assert.equal(rest, '');
  for (const piece of pieces) assert.ok(!piece.includes(REPLACEMENT), `piece ${JSON.stringify(piece)}`);
  assert.deepEqual(pieces.slice(firstByte, firstByte + 4), ['', '', '', RARE], 'held back until the fourth byte completes it');
});

test('an incomplete character at the end comes out of flush, as U+FFFD', () => {
  const tokens = [...tokenizer.encode('a', { addBos: false }), ids.get('<0xF0>')!, ids.get('<0x93>')!];
  const { pieces, rest } = stream(tokens);
  assert.deepEqual(pieces, ['a', '', '']);
  assert.equal(rest, tokenizer.decode(tokens).slice(1));
  assert.ok(rest.endsWith(REPLACEMENT));
});

test('an invalid byte followed by text is emitted once the text arrives', () => {
  const tokens = [ids.get('<0x80>')!, ...tokenizer.encode('b', { addBos: false })];
  const { pieces, rest } = stream(tokens);
  assert.equal(pieces[0], '');
  assert.equal(pieces.join('') + rest, tokenizer.decode(tokens));
});

test('a folder without tokenizer files is named before transformers is loaded', async () => {
  const dir = testTempDir('tok');
  writeFileSync(path.join(dir, 'tokenizer_config.json'), '{}');
  await assert.rejects(loadTokenizer(dir), (e: unknown) => e instanceof InputError && e.message.includes(dir) && /no tokenizer\.json/.test(e.message));
});

test('transformers stays a lazy import() in the compiled module', () => {
  const compiled = readFileSync(require.resolve('../../src/engine/tokenizer'), 'utf8');
  assert.match(compiled, /await import\('@huggingface\/transformers'\)/);
  assert.doesNotMatch(compiled, /require\('@huggingface\/transformers'\)/);
});
