import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatAlpha, statusText, statusTooltip, type SteeringStatus } from '../../../src/extension/statusText';

const base: SteeringStatus = { plane: 'shakespeare', planeProblem: undefined, alpha: 2.5, device: 'cpu', state: 'idle' };

test('the item names the plane, alpha, device and engine state', () => {
  assert.equal(statusText(base), '$(pulse) shakespeare · α 2.5 · cpu · idle');
  assert.equal(statusText({ ...base, state: 'training', device: 'cuda' }), '$(loading~spin) shakespeare · α 2.5 · cuda · training');
  assert.equal(statusText({ ...base, state: 'stopped', plane: undefined, device: 'auto' }), '$(circle-slash) no plane · α 2.5 · auto · stopped');
});

test('an unusable active plane is flagged, and the tooltip says why', () => {
  const broken = { ...base, planeProblem: 'it is malformed ("b" must be a finite number)' };
  assert.equal(statusText(broken), '$(pulse) shakespeare $(warning) · α 2.5 · cpu · idle');
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
