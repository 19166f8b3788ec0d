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
import { offerGettingStarted } from '../../src/extension/userMessages';
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

  test('issue 12: without a model the first start says what is needed, with both ways forward, once per user', async () => {
    // The extension's own offer ran at activation, before any suite could watch; this is the same
    // function with a user state of its own (a Memento as VS Code gives one).
    const state = new Map<string, unknown>();
    const memento = {
      keys: () => [...state.keys()],
      get: <T>(key: string) => state.get(key) as T | undefined,
      update: (key: string, value: unknown) => Promise.resolve(void state.set(key, value)),
    } as vscode.Memento;
    const shown = recordMessages();
    try {
      offerGettingStarted(memento, 'tiny-gemma2');
      assert.equal(shown.messages.length, 0, 'offered although a model is set');
      offerGettingStarted(memento, undefined);
      offerGettingStarted(memento, undefined);
    } finally {
      shown.restore();
    }
    assert.equal(shown.messages.length, 1, `offered ${shown.messages.length} times: ${JSON.stringify(shown.messages)}`);
    assert.equal(shown.messages[0].level, 'info');
    assert.match(shown.messages[0].text, /Micro Steer steers a Gemma-2 model on this machine: choose its folder to start\./);
    assert.deepEqual(shown.messages[0].actions, ['Select model folder', 'Get started']);
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
