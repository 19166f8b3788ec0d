/**
 * "Micro Steer: Train steering from selection" in a real extension host on the tiny model: the plane
 * lands in the workspace's .vscode/settings.json beside the settings that were already there (its
 * training record in the file the entry names), and becomes the active plane. Expected values come from the tiny model's config.json and the text selected here.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { MicroSteerApi } from '../../src/extension/extension';
import type { PlaneRecord } from '../../src/protocol';
import { ensureTinyModel } from '../fixtures/tinyModel';
import { activateExtension, clearSuiteSettings, openEditor, readSettingsFile, recordMessages, setWorkspaceSettings, storedPlane, useTinyModel, waitFor } from './support';

const LINES = ["Shall I compare thee to a summer's day?", '', 'All the world is a stage.', '   ', 'The course of true love never did run smooth.'];
const STEPS = 3;

suite('Train steering from selection', () => {
  let api: MicroSteerApi;

  suiteSetup(async () => {
    api = await activateExtension();
    await useTinyModel();
    await setWorkspaceSettings({ 'training.steps': STEPS, trainingSplit: 'line' });
    // A setting of another section, already in the file: writing a plane must leave it alone.
    await vscode.workspace.getConfiguration('editor').update('tabSize', 3, vscode.ConfigurationTarget.Workspace);
  });

  suiteTeardown(async () => {
    await clearSuiteSettings();
    await vscode.workspace.getConfiguration('editor').update('tabSize', undefined, vscode.ConfigurationTarget.Workspace);
  });

  test('trains on every selected line and stores the plane in .vscode/settings.json, its training record beside it', async () => {
    const model = await ensureTinyModel();
    const config = JSON.parse(fs.readFileSync(path.join(model, 'config.json'), 'utf8')) as { hidden_size: number; num_hidden_layers: number };
    const editor = await openEditor(LINES.join('\n'));
    // Two selections: the first two lines and the rest, so both "every selection" and the line split count.
    editor.selections = [new vscode.Selection(0, 0, 1, 0), new vscode.Selection(2, 0, 4, LINES[4].length)];

    const result = await vscode.commands.executeCommand<{ name: string; record: PlaneRecord } | undefined>('microSteer.trainFromSelection', {
      name: 'host shakespeare',
      useAveraging: true,
    });

    assert.ok(result, 'training returned nothing');
    const settings = readSettingsFile();
    assert.deepEqual(storedPlane('host shakespeare'), result.record);
    assert.equal(settings['microSteer.activePlane'], 'host shakespeare');
    assert.equal(settings['editor.tabSize'], 3, 'the other setting in the file was lost');
    assert.equal(settings['microSteer.training.steps'], STEPS);

    const record = storedPlane('host shakespeare');
    assert.equal(record.training.examples, 3, 'three non-blank lines were selected');
    assert.equal(record.training.steps, STEPS);
    assert.equal(record.training.useAveraging, true);
    assert.equal(record.lossHistory.length, STEPS);
    assert.equal(record.layer, Math.floor(config.num_hidden_layers / 2));
    assert.equal(record.model.hiddenSize, config.hidden_size);
    assert.equal(record.model.numHiddenLayers, config.num_hidden_layers);
    assert.equal(Buffer.from(record.n, 'base64').length, 4 * config.hidden_size);
    assert.ok(api.planes().names.includes('host shakespeare'));
    assert.equal(api.status().plane, 'host shakespeare');
  });

  test('issue 12: the progress says the step, the loss as a share of the start and the time left', async () => {
    const window = vscode.window as { withProgress: typeof vscode.window.withProgress };
    const original = window.withProgress;
    const shown: { title?: string; message?: string }[] = [];
    // Passes every report on to VS Code's own progress, keeping a copy of what it said.
    window.withProgress = ((options, task) =>
      original(options, (progress, token) =>
        task(
          {
            report: (value) => {
              shown.push({ title: options.title, message: value.message });
              progress.report(value);
            },
          },
          token,
        ),
      )) as typeof original;
    try {
      const editor = await openEditor('The first line to learn.\nThe second line to learn.');
      editor.selection = new vscode.Selection(0, 0, 1, 26);
      assert.ok(await vscode.commands.executeCommand('microSteer.trainFromSelection', { name: 'host progress', useAveraging: true }));
    } finally {
      window.withProgress = original;
    }
    const training = shown.filter((s) => s.title === 'Micro Steer: training "host progress" on 2 examples');
    const messages = training.map((s) => s.message);
    assert.equal(messages[0], 'reading the examples…', JSON.stringify(shown));
    assert.match(messages[1] ?? '', /^step 1\/3 · loss 100\.0% of the start · about \d+ (s|min) left$/);
    assert.match(messages[2] ?? '', /^step 2\/3 · loss \d+(\.\d)?% of the start · about \d+ (s|min) left$/);
    assert.match(messages[3] ?? '', /^step 3\/3 · loss \d+(\.\d)?% of the start$/, 'the last step has no time left');
    assert.equal(messages.length, 4, JSON.stringify(messages));
  });

  test('a second plane leaves the first one as it was', async () => {
    const before = storedPlane('host shakespeare');
    const editor = await openEditor('A concept line about the sea.\n\nAnother line about the sea.');
    editor.selection = new vscode.Selection(0, 0, 2, 27);

    const result = await vscode.commands.executeCommand<{ name: string } | undefined>('microSteer.trainFromSelection', { name: 'host sea', useAveraging: false });

    assert.equal(result?.name, 'host sea');
    const settings = readSettingsFile();
    assert.deepEqual(storedPlane('host shakespeare'), before);
    assert.equal(storedPlane('host sea').training.useAveraging, false);
    assert.equal(settings['microSteer.activePlane'], 'host sea');
    assert.equal(settings['editor.tabSize'], 3);
  });

  test('an empty selection is a clear error and writes nothing', async () => {
    const before = readSettingsFile();
    const editor = await openEditor('some text\n\n');
    editor.selection = new vscode.Selection(1, 0, 1, 0);
    const shown = recordMessages();
    try {
      const result = await vscode.commands.executeCommand('microSteer.trainFromSelection', { name: 'never stored', useAveraging: true });
      assert.equal(result, undefined);
    } finally {
      shown.restore();
    }
    assert.equal(shown.messages.length, 1);
    assert.equal(shown.messages[0].level, 'error');
    assert.match(shown.messages[0].text, /selection holds no example text/);
    assert.deepEqual(readSettingsFile(), before);
  });

  test('"Stop and keep" ends a long training early and stores the plane trained so far', async () => {
    const editor = await openEditor('A line to keep.\nAnother line to keep.');
    editor.selection = new vscode.Selection(0, 0, 1, 20);
    await setWorkspaceSettings({ 'training.steps': 100_000 });
    try {
      const training = vscode.commands.executeCommand<{ name: string; record: PlaneRecord } | undefined>('microSteer.trainFromSelection', {
        name: 'host kept',
        useAveraging: true,
      });
      await waitFor(() => api.status().state === 'training', 'the engine to start training');
      // A few steps of the tiny model.
      await new Promise((r) => setTimeout(r, 3000));
      assert.equal(await vscode.commands.executeCommand('microSteer.stopTrainingAndKeep'), true);
      const result = await training;
      assert.ok(result, 'the plane trained so far was not kept');
      const steps = result.record.lossHistory.length;
      assert.ok(steps > 0 && steps < 100_000, `kept a plane of ${steps} steps`);
      assert.equal(result.record.training.steps, steps, 'the record says how many steps trained it');
      assert.deepEqual(storedPlane('host kept'), result.record);
      assert.equal(api.status().plane, 'host kept');
    } finally {
      await setWorkspaceSettings({ 'training.steps': STEPS });
    }
    assert.equal(await vscode.commands.executeCommand('microSteer.stopTrainingAndKeep'), false, 'nothing to stop afterwards');
  });

  test('an existing name is refused unless replacing is asked for', async () => {
    const editor = await openEditor('One more line.');
    editor.selection = new vscode.Selection(0, 0, 0, 14);
    const shown = recordMessages();
    try {
      assert.equal(await vscode.commands.executeCommand('microSteer.trainFromSelection', { name: 'host sea', useAveraging: true }), undefined);
    } finally {
      shown.restore();
    }
    assert.match(shown.messages.map((m) => m.text).join('\n'), /a plane named "host sea" exists/);
    const replaced = await vscode.commands.executeCommand<{ record: PlaneRecord } | undefined>('microSteer.trainFromSelection', {
      name: 'host sea',
      useAveraging: true,
      replace: true,
    });
    assert.equal(replaced?.record.training.examples, 1);
    assert.deepEqual(storedPlane('host sea'), replaced.record);
  });
});
