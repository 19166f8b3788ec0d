/**
 * "Micro Steer: Select model folder": pick a folder, have the engine process validate it (its files are
 * untrusted input, parsed only there), store it in `microSteer.modelPath`.
 */
import * as vscode from 'vscode';
import { formatModelSummary } from '../engine/model/summary';
import type { ModelSummary } from '../protocol';
import type { Services } from './services';
import { GET_STARTED, runModelFolderAction, SELECT_MODEL_FOLDER } from './userMessages';

/**
 * With `folder` (a Uri or path; used by tests and other commands) the picker is skipped.
 * Returns the summary of the stored folder, or undefined when the user cancelled or the folder is unusable.
 */
export async function selectModelFolder(services: Services, folder?: vscode.Uri | string): Promise<ModelSummary | undefined> {
  let dir: string | undefined = typeof folder === 'string' ? folder : folder?.fsPath;
  if (!dir) {
    const picked = await vscode.window.showOpenDialog({
      canSelectFolders: true,
      canSelectFiles: false,
      canSelectMany: false,
      openLabel: 'Use this model',
      title: 'Select a Gemma-2 model folder (config.json, *.safetensors, tokenizer.json)',
    });
    dir = picked?.[0]?.fsPath;
    if (!dir) return undefined;
  }
  let summary: ModelSummary;
  try {
    summary = await services.engine.inspectModel(dir);
  } catch (e) {
    const another = 'Select another folder';
    void vscode.window
      .showErrorMessage(`Micro Steer: ${dir} is not a usable model folder: ${(e as Error).message}`, another, GET_STARTED)
      .then((choice) => runModelFolderAction(choice === another ? SELECT_MODEL_FOLDER : choice));
    return undefined;
  }
  const target = vscode.workspace.workspaceFolders?.length
    ? vscode.ConfigurationTarget.Workspace
    : vscode.ConfigurationTarget.Global;
  await vscode.workspace.getConfiguration('microSteer').update('modelPath', summary.dir, target);
  void vscode.window.showInformationMessage(`Micro Steer model: ${formatModelSummary(summary)}`);
  return summary;
}
