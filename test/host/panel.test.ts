/**
 * The steering panel's host side in a real extension host: the suite opens the panel with its command and
 * sends it what its webview would (the same checked messages), then reads the comparison it shows.
 */
import assert from 'node:assert/strict';
import * as vscode from 'vscode';
import type { MicroSteerApi } from '../../src/extension/extension';
import type { PanelRun } from '../../src/protocol';
import { activateExtension, clearSuiteSettings, openEditor, planeFor, setWorkspaceSettings, useTinyModel, waitFor, whileTraining } from './support';

const SAMPLING = { temperature: 1, topK: 0, topP: 1, maxNewTokens: 6, chatTemplate: false, steerPrompt: 'last' };

suite('Steering panel', () => {
  let api: MicroSteerApi;
  const panel = () => {
    const open = api.steeringPanel();
    assert.ok(open, 'the steering panel is not open');
    return open;
  };
  /** Sends a comparison as the webview would and waits until it has ended. */
  const compare = async (planeName: string, seed: number | null): Promise<PanelRun | undefined> => {
    await panel().receive({ type: 'generate', params: { prompt: 'The harbour lights', planeName, alphas: [0, 2], sampling: { ...SAMPLING, seed } } });
    return panel().currentRun;
  };

  suiteSetup(async () => {
    api = await activateExtension();
    const model = await useTinyModel();
    await setWorkspaceSettings({
      planes: { axis: planeFor(model), foreign: planeFor({ ...model, fingerprint: 'another model' }) },
      activePlane: 'axis',
    });
    await vscode.commands.executeCommand('microSteer.openPanel');
    await waitFor(() => api.steeringPanel() !== undefined, 'the panel to open');
  });

  suiteTeardown(async () => {
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
    await clearSuiteSettings();
  });

  test('an empty seed draws a fresh one per run, shown with the run; that seed repeats the run', async () => {
    const first = await compare('axis', null);
    assert.equal(first?.state, 'done');
    assert.equal(typeof first?.seed, 'number');
    assert.ok(first?.columns.every((c) => c.text !== ''), 'a column has no text');
    const second = await compare('axis', null);
    assert.notEqual(second?.seed, first?.seed, 'two runs without a seed used the same one');
    const again = await compare('axis', first?.seed ?? 0);
    assert.equal(again?.seed, first?.seed);
    assert.deepEqual(
      again?.columns.map((c) => c.text),
      first?.columns.map((c) => c.text),
      'the same seed did not repeat the texts',
    );
  });

  test('Generate while the engine trains is refused with the reason, and the shown columns stay', async () => {
    const shown = await compare('axis', 5);
    assert.equal(shown?.state, 'done');
    await whileTraining(api, 'panel busy', async () => {
      const during = await compare('axis', 6);
      assert.equal(during, shown, 'the columns shown were replaced');
      assert.equal(during?.state, 'done');
      assert.match(panel().lastNotice ?? '', /The engine is training: Generate works again when it ends/);
    });
  });

  test('Insert writes at the cursor of the editor last worked in, even one hidden behind the panel: shown, selected, named', async () => {
    // The panel's group is active, so the editor opens in it, over the panel; revealing the panel then hides the editor.
    await vscode.commands.executeCommand('microSteer.openPanel');
    const editor = await openEditor('First line\n');
    editor.selection = new vscode.Selection(1, 0, 1, 0);
    await vscode.commands.executeCommand('microSteer.openPanel');
    await waitFor(() => !vscode.window.visibleTextEditors.some((e) => e.document === editor.document), 'the panel to hide the editor');

    await panel().receive({ type: 'insert', text: 'INSERTED' });
    assert.equal(editor.document.getText(), 'First line\nINSERTED');
    const shown = vscode.window.visibleTextEditors.find((e) => e.document === editor.document);
    assert.ok(shown, 'the editor written to is not visible');
    assert.equal(shown.document.getText(shown.selection), 'INSERTED', 'the inserted text is not selected');
    assert.match(panel().lastNotice ?? '', /^Inserted into Untitled-\d+ at line 2\.$/);
  });

  test('picking a plane in the panel makes it the active plane, which the status bar and every command use', async () => {
    await panel().receive({ type: 'selectPlane', name: 'foreign' });
    assert.equal(vscode.workspace.getConfiguration('microSteer').get('activePlane'), 'foreign');
    assert.equal(api.status().plane, 'foreign');
    await panel().receive({ type: 'selectPlane', name: 'no such plane' });
    assert.match(panel().lastNotice ?? '', /There is no plane named "no such plane"/);
    assert.equal(vscode.workspace.getConfiguration('microSteer').get('activePlane'), 'foreign');
    await panel().receive({ type: 'selectPlane', name: 'axis' });
  });

  test('a comparison that fails before any text keeps the columns shown and says why', async () => {
    const shown = await compare('axis', 7);
    assert.equal(shown?.state, 'done');
    const after = await compare('foreign', 7);
    assert.equal(after, shown, 'a failed run replaced the columns shown');
    assert.match(panel().lastNotice ?? '', /Generation failed: .*another model|Generation failed: .*trained on/);
  });
});
