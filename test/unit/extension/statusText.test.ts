import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatAlpha, statusText, statusTooltip, type SteeringStatus } from '../../../src/extension/statusText';

const base: SteeringStatus = { plane: 'shakespeare', planeProblem: undefined, alpha: 2.5, device: 'cpu', weights: 'f32', state: 'idle', inline: false, model: 'tiny-gemma2' };

test('the item says it is Micro Steer and names the plane and alpha; busy states spin and say what runs', () => {
  assert.equal(statusText(base), '$(sparkle) Micro Steer · shakespeare · α 2.5');
  assert.equal(statusText({ ...base, state: 'training', device: 'cuda' }), '$(loading~spin) Micro Steer · shakespeare · α 2.5 · training');
});

test('at start nothing looks like an error: no plane yet, or no model', () => {
  assert.equal(statusText({ ...base, state: 'stopped', plane: undefined }), '$(sparkle) Micro Steer · no plane yet');
  assert.equal(statusText({ ...base, state: 'stopped', plane: undefined, model: undefined }), '$(sparkle) Micro Steer · no model');
});

test('inline completions show when they are on', () => {
  assert.equal(statusText({ ...base, inline: true }), '$(sparkle) Micro Steer · shakespeare · α 2.5 · $(lightbulb) inline');
  assert.match(statusTooltip({ ...base, inline: true }), /Inline completions: on/);
  assert.match(statusTooltip(base), /Inline completions: off/);
});

test('the tooltip names the model, or says how to choose one', () => {
  assert.match(statusTooltip(base), /Model: tiny-gemma2/);
  assert.match(statusTooltip({ ...base, model: undefined }), /Model: none \(run "Micro Steer: Select model folder"\)/);
});

test('an unusable active plane is flagged, and the tooltip says why', () => {
  const broken = { ...base, planeProblem: 'it is malformed ("b" must be a finite number)' };
  assert.equal(statusText(broken), '$(warning) Micro Steer · shakespeare · α 2.5');
  assert.match(statusTooltip(broken), /Plane: shakespeare: it is malformed \("b" must be a finite number\)/);
  assert.match(statusTooltip({ ...base, plane: undefined }), /Plane: none \(train one from a selection\)/);
  assert.match(statusTooltip(base), /Engine: idle/);
});

test('alphas read as people write them', () => {
  assert.equal(formatAlpha(2), '2.0');
  assert.equal(formatAlpha(0), '0.0');
  assert.equal(formatAlpha(-1), '-1.0');
  assert.equal(formatAlpha(2.25), '2.25');
  assert.equal(formatAlpha(-0.5), '-0.5');
  // Binary noise from sliders and arithmetic is not shown.
  assert.equal(formatAlpha(0.1 + 0.2), '0.3');
});
