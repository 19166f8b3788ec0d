/** The layout of `microsteer compare`: columns when the terminal is wide enough, one row after another otherwise. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MIN_COLUMN_WIDTH, formatComparison, parseAlphas, wrap } from '../../../src/cli/commands/compare';

const rows = [
  { text: 'The quick brown fox jumps over the lazy dog.', tokens: 10, stopReason: 'maxTokens' as const },
  { text: 'A first line\nand a second one', tokens: 7, stopReason: 'eos' as const },
];

test('wrap breaks at spaces within the width, splits longer words, and keeps newlines', () => {
  assert.deepEqual(wrap('aaa bbb ccc', 7), ['aaa bbb', 'ccc']);
  assert.deepEqual(wrap('abcdefghij', 4), ['abcd', 'efgh', 'ij']);
  assert.deepEqual(wrap('one\n\ntwo', 10), ['one', '', 'two']);
  assert.deepEqual(wrap('', 5), ['']);
  for (const line of wrap('The quick brown fox jumps over the lazy dog.', 9)) assert.ok(line.length <= 9, line);
});

test('wide enough: the rows side by side, each column at least MIN_COLUMN_WIDTH wide', () => {
  const columns = 2 * MIN_COLUMN_WIDTH + 3;
  const text = formatComparison([0, 2.5], rows, columns);
  const lines = text.split('\n');
  assert.ok(lines.every((l) => l.length <= columns), text);
  assert.match(lines[0], /^alpha 0 \(10 tokens, maxTokens\) +\| alpha 2\.5 \(7 tokens, eos\)$/);
  assert.match(lines.find((l) => l.startsWith('The quick')) ?? '', /^The quick brown fox jumps over +\| A first line$/);
  // Every column's words are all there, in order.
  const column = (i: number) => lines.slice(2).map((l) => (l.split(' | ')[i] ?? '').trim()).filter((s) => s !== '');
  assert.equal(column(0).join(' '), rows[0].text);
  assert.deepEqual(column(1), ['A first line', 'and a second one']);
});

test('too narrow, unknown width, or one row: one after another with a header per alpha', () => {
  const expected = '== alpha 0 (10 tokens, maxTokens) ==\nThe quick brown fox jumps over the lazy dog.\n\n== alpha 2.5 (7 tokens, eos) ==\nA first line\nand a second one';
  assert.equal(formatComparison([0, 2.5], rows, 2 * MIN_COLUMN_WIDTH + 2), expected);
  assert.equal(formatComparison([0, 2.5], rows, undefined), expected);
  assert.equal(formatComparison([1], rows.slice(0, 1), 200), '== alpha 1 (10 tokens, maxTokens) ==\nThe quick brown fox jumps over the lazy dog.');
});

test('--alphas is a comma-separated list of finite numbers', () => {
  assert.deepEqual(parseAlphas('0, 1.5,2.5,3.5'), [0, 1.5, 2.5, 3.5]);
  assert.throws(() => parseAlphas('1,,2'), /--alphas entry must be a finite number/);
  assert.throws(() => parseAlphas('1,NaN'), /--alphas entry must be a finite number, got "NaN"/);
});
