/**
 * "Micro Steer: Generate steered text at cursor" in a real extension host on the tiny model: the
 * continuation is inserted at the cursor (after a selection used as the prompt), one Undo removes all
 * of it, and a plane from another model is refused without touching the document.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as vscode from 'vscode';
import type { ModelSummary } from '../../src/protocol';
import { activateExtension, clearSuiteSettings, openEditor, planeFor, recordMessages, setWorkspaceSettings, useTinyModel, waitFor } from './support';

const PROMPT = 'Once upon a time, in a quiet harbour town,';
const MAX_TOKENS = 6;

/** The engine processes this extension host started (its children running engine.js). */
function enginePids(): number[] {
  const out = execFileSync('ps', ['-o', 'pid=,args=', '--ppid', String(process.pid)], { encoding: 'utf8' });
  return out
    .split('\n')
    .filter((line) => /engine\.js/.test(line))
    .map((line) => Number.parseInt(line.trim(), 10));
}

suite('Generate steered text at cursor', () => {
  let model: ModelSummary;

  suiteSetup(async () => {
    await activateExtension();
    model = await useTinyModel();
    await setWorkspaceSettings({
      planes: { axis: planeFor(model), foreign: planeFor({ ...model, fingerprint: 'another-model-0123456789' }) },
      activePlane: 'axis',
      'generation.seed': 7,
    });
  });

  suiteTeardown(clearSuiteSettings);

  test('streams the continuation in at the cursor, as one undo step', async () => {
    const editor = await openEditor(`${PROMPT}\nA line after the cursor.`);
    const cursor = new vscode.Position(0, PROMPT.length);
    editor.selection = new vscode.Selection(cursor, cursor);

    const text = await vscode.commands.executeCommand<string | undefined>('microSteer.generateAtCursor', { maxNewTokens: MAX_TOKENS });

    assert.ok(text, 'nothing was generated');
    assert.equal(editor.document.getText(), `${PROMPT}${text}\nA line after the cursor.`);
    await vscode.window.showTextDocument(editor.document);
    await vscode.commands.executeCommand('undo');
    assert.equal(editor.document.getText(), `${PROMPT}\nA line after the cursor.`, 'one undo did not remove the whole continuation');
  });

  test('with a selection, continues the selected text after it', async () => {
    const editor = await openEditor(`Title\n${PROMPT}\nEnd`);
    editor.selection = new vscode.Selection(1, 0, 1, PROMPT.length);

    const text = await vscode.commands.executeCommand<string | undefined>('microSteer.generateAtCursor', { maxNewTokens: MAX_TOKENS });

    assert.ok(text);
    assert.equal(editor.document.getText(), `Title\n${PROMPT}${text}\nEnd`);
  });

  test('the same seed gives the same continuation', async () => {
    const runs: (string | undefined)[] = [];
    for (let i = 0; i < 2; i++) {
      const editor = await openEditor(PROMPT);
      editor.selection = new vscode.Selection(0, PROMPT.length, 0, PROMPT.length);
      runs.push(await vscode.commands.executeCommand<string | undefined>('microSteer.generateAtCursor', { maxNewTokens: MAX_TOKENS }));
    }
    assert.ok(runs[0]);
    assert.equal(runs[1], runs[0]);
  });

  test('after the engine process dies, the user is told and the next generation restarts it', async () => {
    const first = await openEditor(PROMPT);
    first.selection = new vscode.Selection(0, PROMPT.length, 0, PROMPT.length);
    assert.ok(await vscode.commands.executeCommand<string | undefined>('microSteer.generateAtCursor', { maxNewTokens: 2 }));
    const [pid] = enginePids();
    assert.ok(pid, 'no engine process runs under this extension host');

    const shown = recordMessages();
    try {
      process.kill(pid, 'SIGKILL');
      await waitFor(() => shown.messages.some((m) => m.level === 'error'), 'the crash message');
      assert.match(shown.messages[0].text, /engine stopped unexpectedly \(signal SIGKILL\)/);
      const editor = await openEditor(PROMPT);
      editor.selection = new vscode.Selection(0, PROMPT.length, 0, PROMPT.length);
      const text = await vscode.commands.executeCommand<string | undefined>('microSteer.generateAtCursor', { maxNewTokens: MAX_TOKENS });
      assert.ok(text, 'the generation after the crash produced nothing');
      assert.equal(editor.document.getText(), PROMPT + text);
    } finally {
      shown.restore();
    }
    assert.ok(
      shown.messages.some((m) => m.level === 'info' && /engine restarted after a crash/.test(m.text)),
      `no restart message among ${JSON.stringify(shown.messages)}`,
    );
    assert.notEqual(enginePids()[0], pid);
  });

  test('a plane trained on another model is refused with a clear message', async () => {
    await setWorkspaceSettings({ activePlane: 'foreign' });
    const editor = await openEditor(PROMPT);
    editor.selection = new vscode.Selection(0, PROMPT.length, 0, PROMPT.length);
    const shown = recordMessages();
    try {
      assert.equal(await vscode.commands.executeCommand('microSteer.generateAtCursor', { maxNewTokens: MAX_TOKENS }), undefined);
    } finally {
      shown.restore();
      await setWorkspaceSettings({ activePlane: 'axis' });
    }
    assert.equal(editor.document.getText(), PROMPT);
    const errors = shown.messages.filter((m) => m.level === 'error');
    assert.equal(errors.length, 1);
    assert.match(errors[0].text, /plane "foreign" was trained on another model/);
  });

  test('the weights setting reaches the engine: int8 quantizes the model once beside it and the status says so', async () => {
    const quantized = () => fs.readdirSync(model.dir).filter((f) => /^microsteer-weights-q8-[0-9a-f]{16}\.safetensors$/.test(f));
    await setWorkspaceSettings({ weights: 'int8' });
    try {
      const editor = await openEditor(PROMPT);
      editor.selection = new vscode.Selection(0, PROMPT.length, 0, PROMPT.length);
      const text = await vscode.commands.executeCommand<string | undefined>('microSteer.generateAtCursor', { maxNewTokens: MAX_TOKENS });
      assert.ok(text, 'nothing was generated with int8 weights');
      const api = await activateExtension();
      await waitFor(() => api.status().weights === 'int8', 'the status to report int8 weights');
      assert.equal(quantized().length, 1, 'the int8 weights file beside the model');
    } finally {
      await setWorkspaceSettings({ weights: undefined });
    }
  });
});

