/**
 * Guidance for a user without a working model: every model error offers to select a model folder (and
 * the walkthrough), the walkthrough's buttons run commands that exist, and the status bar and panel
 * name the model.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { MicroSteerApi } from '../../src/extension/extension';
import { activateExtension, clearSuiteSettings, EXTENSION_ID, openEditor, planeFor, recordMessages, setWorkspaceSettings, useTinyModel, waitFor } from './support';

interface WalkthroughStep {
  id: string;
  description: string;
  completionEvents?: string[];
}

suite('Guidance when the model is missing', () => {
  let api: MicroSteerApi;
  let notAModel: string;

  /** Runs "Generate steered text at cursor" and returns the error message it shows. */
  const generateError = async () => {
    const editor = await openEditor('The harbour lights were');
    editor.selection = new vscode.Selection(0, 23, 0, 23);
    const recorder = recordMessages();
    try {
      await vscode.commands.executeCommand('microSteer.generateAtCursor', { maxNewTokens: 2 });
      await waitFor(() => recorder.messages.some((m) => m.level === 'error'), 'an error message');
    } finally {
      recorder.restore();
    }
    return recorder.messages.find((m) => m.level === 'error');
  };

  suiteSetup(async () => {
    api = await activateExtension();
    notAModel = fs.mkdtempSync(path.join(os.tmpdir(), 'microsteer-not-a-model-'));
  });

  suiteTeardown(async () => {
    await setWorkspaceSettings({ modelPath: undefined });
    await useTinyModel();
    await clearSuiteSettings();
    fs.rmSync(notAModel, { recursive: true, force: true });
  });

  test('a model folder that cannot be opened: the error offers "Select model folder" and the walkthrough', async () => {
    const model = await useTinyModel();
    await setWorkspaceSettings({ planes: { axis: planeFor(model) }, activePlane: 'axis' });
    await setWorkspaceSettings({ modelPath: notAModel });
    const error = await generateError();
    assert.match(error?.text ?? '', new RegExp(`the model folder ${notAModel.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} cannot be used`));
    assert.deepEqual(error?.actions, ['Select model folder', 'Get started']);
    assert.equal(api.status().model, path.basename(notAModel), 'the status bar does not name the configured model');
  });

  test('no model folder set: the error says so, with the same actions', async () => {
    await setWorkspaceSettings({ modelPath: '' });
    const error = await generateError();
    assert.match(error?.text ?? '', /no model folder is set/);
    assert.deepEqual(error?.actions, ['Select model folder', 'Get started']);
    assert.equal(api.status().model, undefined);
  });

  test('the panel marks a comparison that failed for want of a model, so that it offers "Select model folder"', async () => {
    await setWorkspaceSettings({ modelPath: '' });
    await vscode.commands.executeCommand('microSteer.openPanel');
    await waitFor(() => api.steeringPanel() !== undefined, 'the panel to open');
    const sampling = { temperature: 1, topK: 0, topP: 1, maxNewTokens: 2, chatTemplate: false, steerPrompt: 'last', seed: null };
    await api.steeringPanel()?.receive({ type: 'generate', params: { prompt: 'The harbour', planeName: 'axis', alphas: [0, 2], sampling } });
    const run = api.steeringPanel()?.currentRun;
    assert.equal(run?.state, 'failed');
    assert.match(run?.error ?? '', /no model folder is set/);
    assert.equal(run?.modelProblem, true);
  });

  test('the walkthrough exists, and every button in it runs a command the extension registered', async () => {
    const manifest = vscode.extensions.getExtension(EXTENSION_ID)?.packageJSON as { contributes: { walkthroughs?: { id: string; steps: WalkthroughStep[] }[] } };
    const walkthrough = manifest.contributes.walkthroughs?.find((w) => w.id === 'microSteer.gettingStarted');
    assert.ok(walkthrough, 'no walkthrough microSteer.gettingStarted');
    const registered = new Set(await vscode.commands.getCommands(true));
    const linked = walkthrough.steps.flatMap((s) => [...s.description.matchAll(/\(command:([\w.]+)/g)].map((m) => m[1]));
    assert.ok(linked.length >= 3, `the walkthrough has ${linked.length} command buttons`);
    for (const command of linked) assert.ok(registered.has(command), `the walkthrough links to ${command}, which is not registered`);
    await vscode.commands.executeCommand('workbench.action.openWalkthrough', `${EXTENSION_ID}#microSteer.gettingStarted`, false);
  });
});
