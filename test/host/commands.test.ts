/**
 * The manifest and the extension agree: every command package.json contributes is registered after
 * activation, every setting the code reads is declared with a description, type, default and scope,
 * and "Open steering panel" opens the panel's webview.
 */
import assert from 'node:assert/strict';
import * as vscode from 'vscode';
import { activateExtension, EXTENSION_ID, waitFor } from './support';

interface Manifest {
  contributes: {
    commands: { command: string; title: string; category: string }[];
    configuration: { properties: Record<string, { type?: unknown; default?: unknown; scope?: string; description?: string; markdownDescription?: string }> };
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
    const properties = Object.entries(manifest.contributes.configuration.properties);
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

  test('Open steering panel opens the panel webview', async () => {
    const panelTab = () =>
      vscode.window.tabGroups.all.flatMap((g) => g.tabs).find((t) => t.input instanceof vscode.TabInputWebview && t.input.viewType.endsWith('microSteer.panel'));
    await vscode.commands.executeCommand('microSteer.openPanel');
    // The tab model follows the workbench asynchronously.
    await waitFor(() => panelTab() !== undefined, 'the steering panel tab', 10_000);
    await vscode.window.tabGroups.close(panelTab()!);
  });
});
