import { test } from 'node:test';
import assert from 'node:assert/strict';
import { splitExamples } from '../../../src/extension/exampleSplit';

const poem = 'Shall I compare thee\n  to a summer\'s day?  \n\n\t\nThou art more lovely\r\nand more temperate.\n\n\n';

test('line: one example per non-blank line, trimmed, across every selection', () => {
  assert.deepEqual(splitExamples([poem, 'second selection\n   \nlast line'], 'line'), [
    'Shall I compare thee',
    "to a summer's day?",
    'Thou art more lovely',
    'and more temperate.',
    'second selection',
    'last line',
  ]);
});

test('paragraph: blocks separated by lines that are empty or whitespace only', () => {
  assert.deepEqual(splitExamples([poem], 'paragraph'), [
    "Shall I compare thee\n  to a summer's day?",
    'Thou art more lovely\nand more temperate.',
  ]);
  // A single line break does not end a paragraph; CR LF and lone CR count as line breaks.
  assert.deepEqual(splitExamples(['a\nb\r\n\r\nc\r\rd'], 'paragraph'), ['a\nb', 'c', 'd']);
});

test('selection: each selection whole, trimmed', () => {
  assert.deepEqual(splitExamples(['  one\n\ntwo  ', 'three'], 'selection'), ['one\n\ntwo', 'three']);
});

test('blank or whitespace-only selections give no examples in any mode', () => {
  for (const split of ['line', 'paragraph', 'selection'] as const) {
    assert.deepEqual(splitExamples(['', '   ', '\n\t\n', '\r\n'], split), [], split);
    assert.deepEqual(splitExamples([], split), [], split);
  }
});
