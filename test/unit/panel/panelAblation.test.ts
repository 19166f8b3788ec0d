import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseWebviewMessage } from '../../../src/extension/panelMessages';
import { InputError } from '../../../src/engine/errors';
import { PANEL_LIMITS } from '../../../src/protocol';
import { columnLabel, parseLayerChoice, restorePanelState } from '../../../webview/panelState';

const SAMPLING = { temperature: 1, topK: 0, topP: 1, seed: 0, maxNewTokens: 20, chatTemplate: false, steerPrompt: 'last' };

function generate(params: Record<string, unknown>) {
  return { type: 'generate', params: { prompt: 'p', planeName: 'storm', steerWith: 'vector', alphas: [0, 2], sampling: SAMPLING, ...params } };
}

function rejects(raw: unknown, reason: RegExp): void {
  assert.throws(() => parseWebviewMessage(raw), (e: unknown) => e instanceof InputError && reason.test(e.message), `expected ${reason}`);
}

test('an ablation of all layers or of listed layers is accepted as a fresh copy', () => {
  for (const ablate of [{ layers: 'all' }, { layers: [0] }, { layers: [3, 1, PANEL_LIMITS.maxAblationLayers - 1] }]) {
    const raw = generate({ ablate });
    const parsed = parseWebviewMessage(raw);
    assert.deepEqual(parsed, raw);
    assert.ok(parsed.type === 'generate');
    assert.notEqual(parsed.params.ablate, ablate);
  }
  // Without the field nothing is ablated.
  const parsed = parseWebviewMessage(generate({}));
  assert.ok(parsed.type === 'generate' && !('ablate' in parsed.params));
});

test('an ablation of the wrong shape or type is rejected, naming the field', () => {
  rejects(generate({ ablate: true }), /generate\.params\.ablate must be an object, got true/);
  rejects(generate({ ablate: null }), /generate\.params\.ablate must be an object/);
  rejects(generate({ ablate: [1] }), /generate\.params\.ablate must be an object, got an array/);
  rejects(generate({ ablate: {} }), /ablate\.layers must be "all" or an array of 1 to/);
  rejects(generate({ ablate: { layers: 'ALL' } }), /ablate\.layers must be "all"/);
  rejects(generate({ ablate: { layers: [] } }), /ablate\.layers must be "all" or an array of 1 to/);
  rejects(generate({ ablate: { layers: 2 } }), /ablate\.layers must be "all"/);
  rejects(generate({ ablate: { layers: [1.5] } }), /ablate\.layers\[0\] must be an integer/);
  rejects(generate({ ablate: { layers: [1, '2'] } }), /ablate\.layers\[1\] must be an integer .* got "2"/);
  rejects(generate({ ablate: { layers: [-1] } }), /ablate\.layers\[0\] must be an integer in \[0,/);
  rejects(generate({ ablate: { layers: [PANEL_LIMITS.maxAblationLayers] } }), /ablate\.layers\[0\] must be an integer in/);
  rejects(generate({ ablate: { layers: [2, 1, 2] } }), /ablate\.layers names layer 2 twice/);
  rejects(generate({ ablate: { layers: 'all', direction: [1] } }), /ablate has an unknown field "direction"/);
});

test('an ablation needs a vector to ablate', () => {
  rejects(generate({ steerWith: undefined, ablate: { layers: 'all' } }), /ablate needs steerWith "vector"/);
  rejects(generate({ steerWith: 'plane', ablate: { layers: 'all' } }), /ablate needs steerWith "vector"/);
});

test('the layers field reads blank or "all" as every layer, else layer numbers', () => {
  assert.equal(parseLayerChoice('', 'f'), 'all');
  assert.equal(parseLayerChoice('  All ', 'f'), 'all');
  assert.deepEqual(parseLayerChoice('1, 2 5', 'f'), [1, 2, 5]);
  assert.throws(() => parseLayerChoice('1, x', 'f'), /"x" is not a layer number/);
  assert.throws(() => parseLayerChoice('-1', 'f'), /"-1" is not a layer number/);
  assert.throws(() => parseLayerChoice('3,3', 'f'), /names layer 3 twice/);
});

test('the saved option and an ablation column are restored; a damaged one falls back to off', () => {
  const column = { alpha: 0, ablation: { layers: [1, 2] }, text: 'calm' };
  const restored = restorePanelState({ steerWith: 'vector', planeName: 'storm', ablate: { layers: 'all' }, run: { runId: 1, planeName: 'storm', state: 'done', columns: [column] } });
  assert.deepEqual(restored.ablate, { layers: 'all' });
  assert.deepEqual(restored.run?.columns, [column]);
  assert.equal(restorePanelState({ ablate: { layers: [] } }).ablate, undefined);
  assert.equal(restorePanelState({ ablate: 'all' }).ablate, undefined);
  assert.equal(restorePanelState({}).ablate, undefined);
});

test('the ablation column is labelled with its layers; others by their alpha', () => {
  assert.equal(columnLabel({ alpha: 0, ablation: { layers: 'all' }, text: '' }), 'direction ablated (all layers)');
  assert.equal(columnLabel({ alpha: 0, ablation: { layers: [3] }, text: '' }), 'direction ablated (layer 3)');
  assert.equal(columnLabel({ alpha: 0, ablation: { layers: [1, 2] }, text: '' }), 'direction ablated (layers 1, 2)');
  assert.match(columnLabel({ alpha: 0, text: '' }), /unsteered/);
});
