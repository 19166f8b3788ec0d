/**
 * Issue 11, class 8: the manifest's ranges hold in code for every numeric setting, and a workspace that
 * is not trusted cannot switch inline completions on.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import manifest from '../../../package.json';
import { numericSettingProblem, trustedSettingValue } from '../../../src/extension/settingRules';

const properties: Record<string, { type?: string | string[]; minimum?: number; maximum?: number; exclusiveMinimum?: number }> = Object.assign({}, ...manifest.contributes.configuration.map((group) => group.properties));
const numeric = Object.entries(properties).filter(([, p]) => [p.type].flat().some((t) => t === 'number' || t === 'integer'));

test('values outside the manifest\'s ranges are refused: above the maximum too, not only below the minimum', () => {
  const cases: [string, unknown, RegExp][] = [
    ['alpha', 1e30, /at most 10/],
    ['alpha', -6, /at least -5/],
    ['inlineCompletions.maxTokens', 1e9, /at most 256/],
    ['inlineCompletions.debounceMs', 1e12, /at most 10000/],
    ['generation.contextChars', 1e9, /at most 50000/],
    ['generation.maxNewTokens', 0, /at least 1/],
    ['generation.topP', 0, /more than 0/],
    ['training.learningRate', 1e308, /at most 1/],
    ['training.steps', 2.5, /an integer/],
    ['training.batchTokens', 1, /at least 2/],
    ['alpha', '2', /a finite number/],
    ['alpha', Infinity, /a finite number/],
  ];
  for (const [key, value, message] of cases) assert.match(numericSettingProblem(key, value) ?? 'accepted', message, `${key} = ${String(value)}`);
  assert.equal(numericSettingProblem('alpha', 2.5), undefined);
  assert.equal(numericSettingProblem('training.batchSize', null), undefined, 'null: the method\'s default');
  assert.equal(numericSettingProblem('training.batchTokens', null), undefined);
  assert.match(numericSettingProblem('training.steps', null) ?? 'accepted', /a finite number/, 'null only where the manifest allows it');
});

test('every numeric setting of the manifest is bounded on both sides, and its default is within the bounds', () => {
  assert.ok(numeric.length >= 15);
  for (const [key, p] of numeric) {
    assert.ok(p.minimum !== undefined || p.exclusiveMinimum !== undefined, `${key} has no lower bound`);
    assert.ok(p.maximum !== undefined, `${key} has no upper bound`);
    const name = key.replace(/^microSteer\./, '');
    assert.equal(numericSettingProblem(name, (properties[key] as { default?: unknown }).default), undefined, `${key}'s default`);
  }
});

test('inline completions: the workspace\'s value counts only when the workspace is trusted', () => {
  assert.equal(trustedSettingValue({ defaultValue: false, workspaceValue: true }, false), false);
  assert.equal(trustedSettingValue({ defaultValue: false, workspaceFolderValue: true }, false), false);
  assert.equal(trustedSettingValue({ defaultValue: false, workspaceValue: true }, true), true);
  assert.equal(trustedSettingValue({ defaultValue: false, globalValue: true, workspaceValue: false }, false), true, 'the user\'s own choice holds');
  assert.equal(trustedSettingValue({ defaultValue: false, globalValue: true, workspaceValue: false }, true), false);
  assert.ok(manifest.capabilities.untrustedWorkspaces.restrictedConfigurations.includes('microSteer.inlineCompletions.enabled'));
});
