/**
 * Steered inline completions in a real extension host on the tiny model. VS Code has no command that
 * runs inline completion providers, so the suite calls the provider the extension registered (its
 * exported API hands out that same object) with real documents and cancellation tokens.
 */
import assert from 'node:assert/strict';
import * as vscode from 'vscode';
import type { MicroSteerApi } from '../../src/extension/extension';
import { activateExtension, clearSuiteSettings, openEditor, planeFor, setWorkspaceSettings, useTinyModel, waitFor, waitForAsync, whileTraining } from './support';

const PROMPT = 'The harbour lights were';
const CONTEXT: vscode.InlineCompletionContext = { triggerKind: vscode.InlineCompletionTriggerKind.Invoke, selectedCompletionInfo: undefined };

suite('Steered inline completions', () => {
  let api: MicroSteerApi;
  let document: vscode.TextDocument;
  const end = new vscode.Position(0, PROMPT.length);

  const provideAt = async (doc: vscode.TextDocument, at: vscode.Position, token = new vscode.CancellationTokenSource().token) => {
    const result = await api.inlineCompletions.provideInlineCompletionItems(doc, at, CONTEXT, token);
    return result ?? [];
  };
  const provide = (token?: vscode.CancellationToken) => provideAt(document, end, token);
  /** An editor holding a prompt no earlier test asked for (finished completions are kept and would answer a repeated one), and its end. */
  const fresh = async (prompt: string) => ({ doc: (await openEditor(prompt)).document, at: new vscode.Position(0, prompt.length) });

  suiteSetup(async () => {
    api = await activateExtension();
    const model = await useTinyModel();
    await setWorkspaceSettings({
      planes: { axis: planeFor(model) },
      activePlane: 'axis',
      'inlineCompletions.debounceMs': 0,
      'inlineCompletions.maxTokens': 4,
      'generation.seed': 3,
    });
    document = (await openEditor(PROMPT)).document;
  });

  suiteTeardown(clearSuiteSettings);

  test('off by default: no items', async () => {
    assert.equal(vscode.workspace.getConfiguration('microSteer').get('inlineCompletions.enabled'), false);
    assert.deepEqual(await provide(), []);
  });

  test('when enabled, one item continuing at the cursor', async () => {
    assert.equal(await vscode.commands.executeCommand('microSteer.toggleInlineCompletions', true), true);
    const items = await provide();
    assert.equal(items.length, 1);
    const item = items[0];
    assert.equal(typeof item.insertText, 'string');
    assert.ok((item.insertText as string).length > 0, 'the item has no text');
    assert.ok(item.range?.isEqual(new vscode.Range(end, end)), 'the item does not insert at the cursor');
  });

  test('the editor shows the ghost text and accepting it inserts it', async () => {
    const editor = await openEditor(PROMPT);
    editor.selection = new vscode.Selection(end, end);
    await vscode.commands.executeCommand('editor.action.inlineSuggest.trigger');
    // The suggestion appears asynchronously: accept until the document changes.
    await waitForAsync(async () => {
      await vscode.commands.executeCommand('editor.action.inlineSuggest.commit');
      return editor.document.getText() !== PROMPT;
    }, 'the inline suggestion to be accepted');
    assert.ok(editor.document.getText().startsWith(PROMPT));
    assert.ok(editor.document.getText().length > PROMPT.length);
  });

  test('a request cancelled during the debounce (the user typed) asks nothing', async () => {
    await setWorkspaceSettings({ 'inlineCompletions.debounceMs': 2000 });
    try {
      const { doc, at } = await fresh('Typed while waiting');
      const source = new vscode.CancellationTokenSource();
      const started = Date.now();
      const pending = provideAt(doc, at, source.token);
      setTimeout(() => source.cancel(), 50);
      assert.deepEqual(await pending, []);
      assert.ok(Date.now() - started < 1500, 'the cancelled request waited out the debounce');
    } finally {
      await setWorkspaceSettings({ 'inlineCompletions.debounceMs': 0 });
    }
  });

  test('no request while the engine is training', async () => {
    await whileTraining(api, 'inline busy', async () => {
      const { doc, at } = await fresh('Asked while training');
      assert.deepEqual(await provideAt(doc, at), []);
    });
    assert.ok(api.planes().names.includes('inline busy'));
  });

  test('work for a request VS Code gave up on still finishes, and answers the next request for that prompt', async () => {
    const { doc: other, at } = await fresh('A request given up on');
    // The plane trained by the test before warms the engine in the background: let that finish first, or
    // its generating state would be taken for this request's, and this request's work would queue behind it.
    await api.inlineCompletions.settled();
    const source = new vscode.CancellationTokenSource();
    const pending = provideAt(other, at, source.token);
    // The tiny model generates 4 tokens in a few tens of milliseconds: look often enough to see it.
    await waitFor(() => api.status().state === 'generating', 'the engine to start generating', 30_000, 1);
    source.cancel();
    assert.deepEqual(await pending, [], 'a cancelled request shows nothing');
    await api.inlineCompletions.settled();

    // While the engine trains, nothing new is asked; the finished work is still there to answer.
    await whileTraining(api, 'inline reuse', async () => {
      const reused = await provideAt(other, at);
      assert.equal(reused.length, 1, 'the finished work did not answer the same prompt');
      assert.ok((reused[0].insertText as string).length > 0);
      assert.deepEqual(await provideAt(other, new vscode.Position(0, 5)), [], 'a new prompt was asked while training');
    });
  });

  test('disabled again: no items', async () => {
    assert.equal(await vscode.commands.executeCommand('microSteer.toggleInlineCompletions'), false);
    assert.deepEqual(await provide(), []);
  });
});
