/**
 * Extension entry: registers commands. Activation does no model work and imports no tokenizer or
 * onnxruntime; everything heavy lives in the engine.
 */
import * as vscode from 'vscode';
import { selectModelFolder } from './modelFolderCommand';

export function activate(context: vscode.ExtensionContext): void {
  context.subscriptions.push(vscode.commands.registerCommand('microSteer.selectModelFolder', selectModelFolder));
}

export function deactivate(): void {}
