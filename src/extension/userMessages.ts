/** How failures reach the user: bad input as its own message, anything else with a pointer to the log. */
import * as vscode from 'vscode';
import { isInputError } from '../engine/errors';

/** Shows `e` as the failure of `what` ("Training", "Generation"); internal errors offer the output channel. */
export function reportFailure(what: string, e: unknown, output: vscode.OutputChannel): void {
  const message = e instanceof Error ? e.message : String(e);
  output.appendLine(`${what} failed: ${e instanceof Error && !isInputError(e) ? (e.stack ?? message) : message}`);
  if (isInputError(e)) {
    void vscode.window.showErrorMessage(`Micro Steer: ${message}`);
    return;
  }
  void vscode.window.showErrorMessage(`Micro Steer: ${what} failed: ${message}`, 'Show log').then((choice) => choice && output.show(true));
}
