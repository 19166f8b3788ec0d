import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chooseModelPath } from '../../../src/extension/modelPathPolicy';

test('a trusted workspace uses its own setting over the user one', () => {
  assert.deepEqual(chooseModelPath({ globalValue: '/user/model', workspaceValue: '/ws/model' }, true), { path: '/ws/model' });
  assert.deepEqual(chooseModelPath({ workspaceValue: '/ws/model', workspaceFolderValue: '/folder/model' }, true), { path: '/folder/model' });
});

test('an untrusted workspace never loads a folder only its settings name', () => {
  const choice = chooseModelPath({ defaultValue: '', workspaceValue: '/ws/model' }, false);
  assert.equal(choice.path, undefined);
  assert.ok(choice.path === undefined && /not trusted/.test(choice.reason) && choice.reason.includes('/ws/model'));
  assert.equal(chooseModelPath({ workspaceFolderValue: '/folder/model' }, false).path, undefined);
});

test('an untrusted workspace still uses the user setting', () => {
  assert.deepEqual(chooseModelPath({ globalValue: '/user/model', workspaceValue: '/ws/model' }, false), { path: '/user/model' });
});

test('nothing set: a message pointing at Select model folder', () => {
  for (const layers of [undefined, { defaultValue: '' }, { globalValue: '  ', workspaceValue: '' }]) {
    const choice = chooseModelPath(layers, true);
    assert.ok(choice.path === undefined && /Select model folder/.test(choice.reason));
  }
});
