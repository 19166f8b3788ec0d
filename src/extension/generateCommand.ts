/**
 * "Micro Steer: Generate steered text at cursor": continues the text before the cursor (or the
 * selection) with the active plane at `microSteer.alpha`, streaming the continuation into the editor
 * as it arrives (one undo step), cancellable from the progress notification.
 */
import * as vscode from 'vscode';
import { CancelledError, InputError } from '../engine/errors';
import { planeSpec } from './planeRecords';
import type { Services } from './services';
import { configuredAlpha, promptContextChars, samplingOptions } from './settings';
import { formatAlpha } from './statusText';
import { StreamingInsertion } from './streamingInsertion';
import { reportFailure } from './userMessages';

/** Arguments that override settings (tests, keybindings). */
export interface GenerateArgs {
  alpha?: number;
  maxNewTokens?: number;
}

/** Up to `chars` characters of `document` before `position`: the prompt a continuation there starts from. */
export function textBefore(document: vscode.TextDocument, position: vscode.Position, chars: number): string {
  const start = document.positionAt(Math.max(0, document.offsetAt(position) - chars));
  return document.getText(new vscode.Range(start, position));
}

/** The prompt: the selection if there is one, else the text before the cursor; and where the continuation goes. */
function promptAtCursor(editor: vscode.TextEditor, contextChars: number): { prompt: string; at: vscode.Position } {
  const { document, selection } = editor;
  if (!selection.isEmpty) return { prompt: document.getText(selection), at: selection.end };
  return { prompt: textBefore(document, selection.active, contextChars), at: selection.active };
}

/** Resolves with the inserted text, or undefined when nothing was generated (the user was told why). */
export async function generateAtCursor(services: Services, args: GenerateArgs = {}): Promise<string | undefined> {
  const { engine, planes } = services;
  try {
    const editor = vscode.window.activeTextEditor;
    if (!editor) throw new InputError('no editor is active: place the cursor where the steered text should go');
    const { prompt, at } = promptAtCursor(editor, promptContextChars());
    if (prompt.trim() === '') throw new InputError('there is no text before the cursor to continue: write a beginning, or select a prompt');
    const alpha = args.alpha ?? configuredAlpha();
    return await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: 'Micro Steer', cancellable: true },
      async (progress, token) => {
        progress.report({ message: 'loading the model…' });
        const plane = planes.activeFor(await engine.ensureModel());
        progress.report({ message: `generating with "${plane.name}" at α ${formatAlpha(alpha)}…` });
        const stop = new vscode.CancellationTokenSource();
        const follow = token.onCancellationRequested(() => stop.cancel());
        const insertion = new StreamingInsertion(editor, at, () => stop.cancel());
        try {
          await engine.generate(
            { prompt, promptFit: 'end', rows: [{ plane: planeSpec(plane.record), alpha }], sampling: samplingOptions(args.maxNewTokens) },
            (_row, text) => insertion.append(text),
            stop.token,
          );
          await insertion.finished();
        } finally {
          follow.dispose();
          stop.dispose();
        }
        if (insertion.stopped) void vscode.window.showWarningMessage(`Micro Steer: generation stopped: ${insertion.stopped}.`);
        return insertion.text;
      },
    );
  } catch (e) {
    // Cancelled before any text came (while the model loaded): nothing to report.
    if (!(e instanceof CancelledError)) reportFailure('Generation', e, engine.output);
    return undefined;
  }
}
