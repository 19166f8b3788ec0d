/**
 * The manifest and the extension agree: every command package.json contributes is registered after
 * activation, every setting the code reads is declared with a description, type, default and scope,
 * and "Open steering panel" opens the panel's webview.
 */
import assert from 'node:assert/strict';
import * as vscode from 'vscode';
import { activateExtension, EXTENSION_ID, waitFor } from './support';

interface SettingDeclaration {
  type?: unknown;
  default?: unknown;
  scope?: string;
  description?: string;
  markdownDescription?: string;
}

interface Manifest {
  contributes: {
    commands: { command: string; title: string; category: string }[];
    /** Groups of settings, each a heading in the Settings editor. */
    configuration: { title: string; properties: Record<string, SettingDeclaration> }[];
    menus: Record<string, { command?: string; submenu?: string; when?: string }[]>;
  };
}

suite('Micro Steer manifest and commands', () => {
  let manifest: Manifest;

  suiteSetup(async () => {
    await activateExtension();
    manifest = vscode.extensions.getExtension(EXTENSION_ID)!.packageJSON as Manifest;
  });

  test('every contributed command is registered, titled and in the Micro Steer category', async () => {
    const registered = new Set(await vscode.commands.getCommands(true));
    const contributed = manifest.contributes.commands;
    assert.ok(contributed.length >= 10);
    for (const c of contributed) {
      assert.ok(registered.has(c.command), `${c.command} is contributed but not registered`);
      assert.equal(c.category, 'Micro Steer');
      assert.ok(c.title.length > 0);
    }
  });

  test('every setting has a description, type, default and scope', () => {
    const properties = manifest.contributes.configuration.flatMap((group) => Object.entries(group.properties));
    assert.ok(properties.length > 20);
    for (const [key, p] of properties) {
      assert.ok(key.startsWith('microSteer.'), key);
      assert.ok(p.description || p.markdownDescription, `${key} has no description`);
      assert.ok(p.type !== undefined, `${key} has no type`);
      assert.ok('default' in p, `${key} has no default`);
      assert.ok(p.scope, `${key} has no scope`);
      // The default VS Code reports is the declared one.
      assert.deepEqual(vscode.workspace.getConfiguration().inspect(key)?.defaultValue, p.default, key);
    }
  });

  test('settings read in plain words: no method jargon; the training ones are grouped under Advanced', () => {
    const groups = manifest.contributes.configuration;
    const advanced = groups.find((g) => g.title.startsWith('Advanced'));
    assert.ok(advanced, 'no Advanced group');
    assert.ok(Object.keys(advanced.properties).every((k) => k.startsWith('microSteer.training.')));
    assert.ok(Object.keys(advanced.properties).length >= 8);
    for (const group of groups) {
      for (const [key, p] of Object.entries(group.properties)) {
        const text = p.markdownDescription ?? p.description ?? '';
        assert.doesNotMatch(text, /capture term|likelihood term|offset term|floor\(|useAveraging|Adam|`null`: the middle/i, `${key}: ${text}`);
      }
    }
  });

  test('the editor context menu groups the commands under Micro Steer', () => {
    const context = manifest.contributes.menus['editor/context'];
    assert.deepEqual(context.map((m) => m.submenu), ['microSteer.editorContext']);
    assert.ok(manifest.contributes.menus['microSteer.editorContext'].some((m) => m.command === 'microSteer.trainFromSelection'));
  });

  test('Open steering panel opens the panel webview', async () => {
    const panelTab = () =>
      vscode.window.tabGroups.all.flatMap((g) => g.tabs).find((t) => t.input instanceof vscode.TabInputWebview && t.input.viewType.endsWith('microSteer.panel'));
    await vscode.commands.executeCommand('microSteer.openPanel');
    // The tab model follows the workbench asynchronously.
    await waitFor(() => panelTab() !== undefined, 'the steering panel tab', 10_000);
    await vscode.window.tabGroups.close(panelTab()!);
  });
});
