/**
 * Runs inside the extension host of the packaged-VSIX test (test/harness/packageTests.ts), as its
 * extensionTestsPath. Checks that the Micro Steer that VS Code loaded is the one installed from the VSIX,
 * that it activates and registers every command it contributes, and that it generates text at the cursor
 * with the workspace's plane: that starts the engine process from the installed folder, which loads
 * onnxruntime-node and transformers' tokenizer from the VSIX's own node_modules. A runtime dependency left
 * out of the VSIX fails here.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';

/** Set by packageTests.ts: the folder `code-server --install-extension` made. */
const INSTALLED_EXTENSION_ENV = 'MICROSTEER_INSTALLED_EXTENSION';
const EXTENSION_ID = 'microsteer.microsteer';
const PROMPT = 'Shall I compare thee to a summer';

/** Command lines of this extension host's child processes. */
function childCommandLines(): string[] {
  return execFileSync('ps', ['-o', 'args=', '--ppid', String(process.pid)], { encoding: 'utf8' }).split('\n').filter(Boolean);
}

async function check(what: string, body: () => Promise<void>): Promise<void> {
  const started = Date.now();
  await body();
  console.log(`  ok  ${what} (${Date.now() - started} ms)`);
}

export async function run(): Promise<void> {
  const installedDir = process.env[INSTALLED_EXTENSION_ENV];
  assert.ok(installedDir, `${INSTALLED_EXTENSION_ENV} is not set: the runner names the installed extension's folder there`);
  const extension = vscode.extensions.getExtension(EXTENSION_ID);

  await check('the loaded extension is the installed VSIX', async () => {
    assert.ok(extension, `${EXTENSION_ID} is not loaded at all`);
    assert.equal(fs.realpathSync(extension.extensionPath), fs.realpathSync(installedDir), 'VS Code loaded Micro Steer from somewhere else');
  });

  await check('it activates and registers every contributed command', async () => {
    await extension?.activate();
    assert.ok(extension?.isActive, 'activate() returned but the extension is not active');
    const contributed = (extension.packageJSON as { contributes: { commands: { command: string }[] } }).contributes.commands.map((c) => c.command);
    const registered = new Set(await vscode.commands.getCommands(true));
    assert.deepEqual(contributed.filter((c) => !registered.has(c)), [], 'contributed commands without a handler');
  });

  await check('it generates steered text at the cursor with the engine from the VSIX', async () => {
    const document = await vscode.workspace.openTextDocument({ content: PROMPT, language: 'plaintext' });
    const editor = await vscode.window.showTextDocument(document);
    editor.selection = new vscode.Selection(0, PROMPT.length, 0, PROMPT.length);
    const text = await vscode.commands.executeCommand<string | undefined>('microSteer.generateAtCursor', { maxNewTokens: 4 });
    assert.ok(text, 'Generate steered text at cursor produced nothing (the extension\'s output, printed below, says why)');
    assert.equal(document.getText(), PROMPT + text);
    const engine = path.join(installedDir, 'dist', 'engine.js');
    const engines = childCommandLines().filter((line) => line.includes('engine.js'));
    assert.ok(
      engines.some((line) => line.includes(engine)),
      `no engine process runs ${engine}; engine processes: ${engines.join('; ') || 'none'}`,
    );
  });
}
