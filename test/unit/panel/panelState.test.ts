import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  addAlpha,
  alphaLabel,
  choosePlane,
  defaultPanelState,
  removeAlpha,
  restorePanelState,
} from '../../../webview/panelState';
import type { PanelPlane } from '../../../src/protocol';

const SAMPLING = { temperature: 1, topK: 0, topP: 1, seed: null, maxNewTokens: 200, chatTemplate: false, steerPrompt: 'last' };

test('the default state: empty prompt, no plane, alphas 0, 1.5, 2.5, 3.5, the engine sampling defaults but a fresh seed per run, no run', () => {
  assert.deepEqual(defaultPanelState(), { prompt: '', planeName: '', alphas: [0, 1.5, 2.5, 3.5], sampling: SAMPLING, run: null });
});

test('default states are independent copies', () => {
  const a = defaultPanelState();
  a.alphas.push(9);
  a.sampling.topK = 5;
  const b = defaultPanelState();
  assert.deepEqual(b.alphas, [0, 1.5, 2.5, 3.5]);
  assert.equal(b.sampling.topK, 0);
});

test('a valid saved state is restored whole', () => {
  const saved = {
    prompt: 'Once upon a time',
    planeName: 'wedding',
    alphas: [0, 2, -1.5],
    sampling: { temperature: 0.7, topK: 40, topP: 0.9, seed: 12, maxNewTokens: 64, chatTemplate: true, steerPrompt: 'all' },
    run: {
      runId: 3,
      planeName: 'wedding',
      state: 'done',
      columns: [
        { alpha: 0, text: 'plain', tokens: 2, stopReason: 'eos' },
        { alpha: 2, text: 'steered', tokens: 64, stopReason: 'maxTokens' },
      ],
    },
  };
  assert.deepEqual(restorePanelState(JSON.parse(JSON.stringify(saved))), saved);
});

test('a kept seed and the seed a run used are restored; an empty seed box stays empty', () => {
  const run = { runId: 4, planeName: 'p', state: 'done', seed: 123456, columns: [{ alpha: 2, text: 'steered' }] };
  const restored = restorePanelState({ sampling: { ...SAMPLING, seed: 77 }, run });
  assert.equal(restored.sampling.seed, 77);
  assert.equal(restored.run?.seed, 123456);
  assert.equal(restorePanelState({ sampling: { ...SAMPLING, seed: null } }).sampling.seed, null);
});

test('anything but an object restores the defaults', () => {
  for (const saved of [undefined, null, 'state', 3, [1, 2]]) assert.deepEqual(restorePanelState(saved), defaultPanelState());
});

test('each invalid field falls back to its default while valid ones are kept', () => {
  const restored = restorePanelState({
    prompt: 42,
    planeName: 'kept',
    alphas: [0, 'two'],
    sampling: { temperature: -1, topK: 7, topP: 2, seed: 1.5, maxNewTokens: 32, chatTemplate: 'no', steerPrompt: 'all', junk: 1 },
    run: { runId: 1, planeName: 'x', state: 'exploded', columns: [{ alpha: 0, text: '' }] },
    unknownField: { deep: true },
  });
  assert.deepEqual(restored, {
    prompt: '',
    planeName: 'kept',
    alphas: [0, 1.5, 2.5, 3.5],
    sampling: { ...SAMPLING, topK: 7, maxNewTokens: 32, steerPrompt: 'all' },
    run: null,
  });
});

test('out-of-range alphas and too many of them are not restored', () => {
  assert.deepEqual(restorePanelState({ alphas: [0, 11] }).alphas, [0, 1.5, 2.5, 3.5]);
  assert.deepEqual(restorePanelState({ alphas: new Array(9).fill(1) }).alphas, [0, 1.5, 2.5, 3.5]);
  assert.deepEqual(restorePanelState({ alphas: [] }).alphas, [0, 1.5, 2.5, 3.5]);
});

test('a run saved while running is restored as cancelled: the host that ran it is gone', () => {
  const run = { runId: 2, planeName: 'p', state: 'running', columns: [{ alpha: 1.5, text: 'half a sen' }] };
  assert.deepEqual(restorePanelState({ run }).run, { ...run, state: 'cancelled' });
});

test('a saved run with a bad column or id is dropped; bad optional column fields are left out', () => {
  const column = { alpha: 1, text: 'x' };
  const base = { runId: 1, planeName: 'p', state: 'done', columns: [column] };
  for (const bad of [
    { ...base, runId: -1 },
    { ...base, runId: 1.5 },
    { ...base, planeName: '' },
    { ...base, columns: [] },
    { ...base, columns: [{ alpha: 20, text: 'x' }] },
    { ...base, columns: [{ alpha: 1, text: 5 }] },
    { ...base, columns: new Array(9).fill(column) },
  ]) {
    assert.equal(restorePanelState({ run: bad }).run, null, JSON.stringify(bad));
  }
  const loose = restorePanelState({ run: { ...base, columns: [{ alpha: 1, text: 'x', tokens: -3, stopReason: 'bored' }] } }).run;
  assert.deepEqual(loose?.columns, [{ alpha: 1, text: 'x' }]);
  const failed = restorePanelState({ run: { ...base, state: 'failed', error: 'engine crashed' } }).run;
  assert.equal(failed?.error, 'engine crashed');
});

test('adding an alpha appends one above the last, capped at 10 and at 8 alphas', () => {
  assert.deepEqual(addAlpha([0, 1.5, 2.5, 3.5]), [0, 1.5, 2.5, 3.5, 4.5]);
  assert.deepEqual(addAlpha([9.5]), [9.5, 10]);
  assert.deepEqual(addAlpha([]), [0]);
  const eight = [0, 1, 2, 3, 4, 5, 6, 7];
  assert.deepEqual(addAlpha(eight), eight);
  const input = [1];
  addAlpha(input);
  assert.deepEqual(input, [1], 'the input is not modified');
});

test('removing an alpha keeps the others in order and never the last one', () => {
  assert.deepEqual(removeAlpha([0, 1.5, 2.5], 1), [0, 2.5]);
  assert.deepEqual(removeAlpha([0, 1.5, 2.5], 0), [1.5, 2.5]);
  assert.deepEqual(removeAlpha([0, 1.5, 2.5], 2), [0, 1.5]);
  assert.deepEqual(removeAlpha([2], 0), [2]);
  assert.deepEqual(removeAlpha([0, 1], 5), [0, 1]);
  assert.deepEqual(removeAlpha([0, 1], -1), [0, 1]);
});

test('the plane shown: the active one, else the chosen one while it exists, else the first', () => {
  const plane = (name: string): PanelPlane => ({
    name,
    layer: 1,
    b: 0,
    finalLoss: 1,
    lossHistory: [2, 1],
    model: { hiddenSize: 8, numHiddenLayers: 2, fingerprint: 'f' },
  });
  const planes = [plane('a'), plane('b'), plane('c')];
  // The active plane wins: after training a new one (it becomes active) the panel shows it.
  assert.equal(choosePlane('b', planes, 'c'), 'c');
  assert.equal(choosePlane('b', planes, null), 'b');
  assert.equal(choosePlane('b', planes, 'gone'), 'b');
  assert.equal(choosePlane('gone', planes, 'c'), 'c');
  assert.equal(choosePlane('', planes, 'c'), 'c');
  assert.equal(choosePlane('gone', planes, 'also gone'), 'a');
  assert.equal(choosePlane('gone', planes, null), 'a');
  assert.equal(choosePlane('a', [], 'a'), '');
});

test('alpha 0 is labelled as the unsteered baseline, others by value', () => {
  assert.match(alphaLabel(0), /unsteered baseline/);
  assert.match(alphaLabel(-0), /unsteered baseline/);
  assert.equal(alphaLabel(2.5), 'α = 2.5');
  assert.doesNotMatch(alphaLabel(0.1), /baseline/);
});
