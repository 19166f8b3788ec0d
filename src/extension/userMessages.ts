/**
 * How failures reach the user: bad input as its own message, a model folder problem with the actions
 * that fix it, anything else with a pointer to the log.
 */
import * as vscode from 'vscode';
import { isInputError } from '../engine/errors';
import { ModelFolderError } from './engineHost';

export const SELECT_MODEL_FOLDER = 'Select model folder';
export const GET_STARTED = 'Get started';
/** The walkthrough of package.json's contributes.walkthroughs, as `publisher.name#id`. */
export const WALKTHROUGH = 'microsteer.microsteer#microSteer.gettingStarted';

/** Runs the action a model-folder message's button names. */
export function runModelFolderAction(choice: string | undefined): void {
  if (choice === SELECT_MODEL_FOLDER) void vscode.commands.executeCommand('microSteer.selectModelFolder');
  else if (choice === GET_STARTED) void vscode.commands.executeCommand('workbench.action.openWalkthrough', WALKTHROUGH, false);
}

/** Shows `e` as the failure of `what` ("Training", "Generation"); internal errors offer the output channel. */
export function reportFailure(what: string, e: unknown, output: vscode.OutputChannel): void {
  const message = e instanceof Error ? e.message : String(e);
  output.appendLine(`${what} failed: ${e instanceof Error && !isInputError(e) ? (e.stack ?? message) : message}`);
  if (e instanceof ModelFolderError) {
    void vscode.window.showErrorMessage(`Micro Steer: ${message}`, SELECT_MODEL_FOLDER, GET_STARTED).then(runModelFolderAction);
    return;
  }
  if (isInputError(e)) {
    void vscode.window.showErrorMessage(`Micro Steer: ${message}`);
    return;
  }
  void vscode.window.showErrorMessage(`Micro Steer: ${what} failed: ${message}`, 'Show log').then((choice) => choice && output.show(true));
}

/** Once per user, when no model folder is set at activation: say what is needed, with the ways to get it. */
export function offerGettingStarted(globalState: vscode.Memento, modelName: string | undefined): void {
  const key = 'microSteer.gettingStartedOffered';
  if (modelName !== undefined || globalState.get<boolean>(key)) return;
  void globalState.update(key, true);
  void vscode.window
    .showInformationMessage('Micro Steer steers a Gemma-2 model on this machine: choose its folder to start.', SELECT_MODEL_FOLDER, GET_STARTED)
    .then(runModelFolderAction);
}
