/**
 * "Micro Steer: Select model folder" in a real extension host: the command validates the folder,
 * stores it in the workspace's `microSteer.modelPath` and returns the model's summary; a folder that
 * is not a model leaves the setting alone. Expected values come from the tiny model's own config.json.
 * The runners make the tiny model before starting VS Code, so ensureTinyModel() finds it cached here.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { ensureTinyModel } from '../fixtures/tinyModel';

const EXTENSION_ID = 'microsteer.microsteer';
const COMMAND = 'microSteer.selectModelFolder';

interface Summary {
  dir: string;
  hiddenSize: number;
  numHiddenLayers: number;
  defaultHookLayer: number;
}

function storedModelPath(): string | undefined {
  return vscode.workspace.getConfiguration('microSteer').inspect<string>('modelPath')?.workspaceValue;
}

suite('Select model folder', () => {
  suiteSetup(async () => {
    const extension = vscode.extensions.getExtension(EXTENSION_ID);
    assert.ok(extension, `extension ${EXTENSION_ID} is not loaded`);
    await extension.activate();
    assert.ok(extension.isActive, 'the extension did not activate');
    assert.ok(vscode.workspace.workspaceFolders?.length, 'the runner must open a workspace folder');
  });

  test('stores the tiny model in the workspace settings and returns its summary', async () => {
    const model = await ensureTinyModel();
    const config = JSON.parse(fs.readFileSync(path.join(model, 'config.json'), 'utf8')) as {
      hidden_size: number;
      num_hidden_layers: number;
    };

    const summary = await vscode.commands.executeCommand<Summary | undefined>(COMMAND, model);

    assert.ok(summary, 'the command returned no summary for the tiny model');
    assert.equal(summary.dir, model);
    assert.equal(summary.hiddenSize, config.hidden_size);
    assert.equal(summary.numHiddenLayers, config.num_hidden_layers);
    assert.equal(summary.defaultHookLayer, Math.floor(config.num_hidden_layers / 2));
    assert.equal(storedModelPath(), model);
  });

  test('rejects a folder that is not a model and leaves the setting unchanged', async () => {
    const before = storedModelPath();
    const empty = fs.mkdtempSync(path.join(os.tmpdir(), 'microsteer-not-a-model-'));
    try {
      const summary = await vscode.commands.executeCommand<Summary | undefined>(COMMAND, empty);
      assert.equal(summary, undefined);
      assert.equal(storedModelPath(), before);
      assert.notEqual(storedModelPath(), empty);
    } finally {
      fs.rmSync(empty, { recursive: true, force: true });
    }
  });
});
