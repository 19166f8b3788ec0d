/** The human forms of a model summary. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatBytes, formatCount, formatModelSummary, formatModelSummaryTable } from '../../../src/engine/model/summary';
import type { ModelSummary } from '../../../src/engine/model/types';

const gemma2b: ModelSummary = {
  dir: '/models/gemma-2-2b',
  architecture: 'Gemma2ForCausalLM',
  hiddenSize: 2304,
  numHiddenLayers: 26,
  vocabSize: 256000,
  parameterCount: 2614341888,
  dtypes: ['F32'],
  sizeOnDiskBytes: 10457367552,
  defaultHookLayer: 13,
  fingerprint: 'ab'.repeat(32),
};

test('counts and sizes get three significant digits in the largest fitting unit', () => {
  assert.equal(formatCount(2614341888), '2.61B');
  assert.equal(formatCount(16925824), '16.9M');
  assert.equal(formatCount(1234), '1.23K');
  assert.equal(formatCount(999), '999');
  assert.equal(formatCount(999_999), '1.00M', 'rounding up moves to the next unit');
  assert.equal(formatBytes(10457367552), '10.5 GB');
  assert.equal(formatBytes(67708288), '67.7 MB');
  assert.equal(formatBytes(512), '512 B');
});

test('the one-line summary names architecture, depth, width, parameters, dtypes, size and hook layer', () => {
  assert.equal(formatModelSummary(gemma2b), 'Gemma2ForCausalLM, 26 layers, hidden 2304, 2.61B parameters, F32, 10.5 GB, hook layer 13');
  assert.match(formatModelSummary({ ...gemma2b, dtypes: ['BF16', 'F32'] }), /, BF16\/F32, /);
});

test('the table has one aligned row per field', () => {
  const lines = formatModelSummaryTable(gemma2b).split('\n');
  assert.equal(lines.length, 10);
  const valueColumn = lines[0].indexOf('/models/gemma-2-2b');
  for (const line of lines) assert.match(line.slice(valueColumn - 2, valueColumn), /^ {2}$/, line);
  assert.ok(lines.some((l) => l.startsWith('default hook layer') && l.includes('13')));
  assert.ok(lines.some((l) => l.startsWith('fingerprint') && l.endsWith(gemma2b.fingerprint)));
});
