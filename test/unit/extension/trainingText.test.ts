import { test } from 'node:test';
import assert from 'node:assert/strict';
import { examplesTitle, formatDuration, lossShare, lossSummary, progressMessage } from '../../../src/extension/trainingText';

test('the first prompt says how many examples came from how many selections', () => {
  assert.equal(examplesTitle(16, 'line', 1), 'Train on 16 lines from 1 selection');
  assert.equal(examplesTitle(1, 'paragraph', 2), 'Train on 1 paragraph from 2 selections');
  assert.equal(examplesTitle(3, 'selection', 3), 'Train on 3 selections');
  assert.equal(examplesTitle(5, undefined, 0), 'Train on 5 examples');
});

test('the loss reads as a share of its start', () => {
  assert.equal(lossShare(62, 100), '62%');
  assert.equal(lossShare(99.8, 100), '99.8%');
  assert.equal(lossShare(5, 100), '5.0%');
  assert.equal(lossShare(1, 0), '–');
  assert.equal(lossShare(Number.NaN, 3), '–');
});

test('time left is extrapolated from the steps so far', () => {
  assert.equal(progressMessage({ step: 100, totalSteps: 500, loss: 62 }, 100, 60_000), 'step 100/500 · loss 62% of the start · about 4 min left');
  assert.equal(progressMessage({ step: 10, totalSteps: 20, loss: 100 }, 100, 5_000), 'step 10/20 · loss 100.0% of the start · about 5 s left');
  assert.equal(progressMessage({ step: 20, totalSteps: 20, loss: 50 }, 100, 5_000), 'step 20/20 · loss 50% of the start');
  assert.equal(formatDuration(3_900_000), 'about 1 h 5 min');
});

test('the result names both ends of the loss in one format', () => {
  assert.equal(lossSummary(141260, 138000, 500), 'loss 141000 → 138000 (98% of the start) in 500 steps');
  assert.equal(lossSummary(2, 1, 1), 'loss 2 → 1 (50% of the start) in 1 step');
});
