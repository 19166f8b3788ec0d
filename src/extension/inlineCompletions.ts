/**
 * Steered inline completions: ghost text continuing the text before the cursor with the active plane
 * at `microSteer.alpha`. Off by default (`microSteer.inlineCompletions.enabled`). A request waits out
 * the debounce, is dropped when the user types meanwhile (VS Code cancels its token), never asks while
 * the engine trains or generates for someone else, and gives way to any command that needs the engine.
 * Problems (no model, no plane) go to the output channel, not into pop-ups while the user types.
 */
import * as vscode from 'vscode';
import { CancelledError } from '../engine/errors';
import { quietPeriod } from './debounce';
import { textBefore } from './generateCommand';
import { planeSpec } from './planeRecords';
import type { Services } from './services';
import { configuredAlpha, inlineSettings, promptContextChars, samplingOptions, SECTION } from './settings';

export class SteeredInlineCompletions implements vscode.InlineCompletionItemProvider {
  /** The latest request's engine work: a new request waits until the cancelled one has let go of the engine. */
  private previous: Promise<unknown> = Promise.resolve();
  private lastProblem: string | undefined;

  constructor(private readonly services: Services) {}

  async provideInlineCompletionItems(
    document: vscode.TextDocument,
    position: vscode.Position,
    _context: vscode.InlineCompletionContext,
    token: vscode.CancellationToken,
  ): Promise<vscode.InlineCompletionItem[] | undefined> {
    const settings = inlineSettings();
    if (!settings.enabled) return undefined;
    if (!(await quietPeriod(settings.debounceMs, token))) return undefined;
    await this.previous;
    const { engine, planes } = this.services;
    if (token.isCancellationRequested || engine.busy) return undefined;

    const prompt = textBefore(document, position, promptContextChars());
    if (prompt.trim() === '') return undefined;
    const work = (async () => {
      const plane = planes.activeFor(await engine.ensureModel());
      const request = { prompt, rows: [{ plane: planeSpec(plane.record), alpha: configuredAlpha() }], sampling: samplingOptions(settings.maxTokens) };
      return engine.generate(request, () => undefined, token, true);
    })();
    this.previous = work.catch(() => undefined);
    try {
      const row = (await work).rows[0];
      this.lastProblem = undefined;
      if (!row || row.stopReason === 'cancelled' || row.text === '' || token.isCancellationRequested) return undefined;
      return [new vscode.InlineCompletionItem(row.text, new vscode.Range(position, position))];
    } catch (e) {
      if (!(e instanceof CancelledError)) this.note((e as Error).message);
      return undefined;
    }
  }

  /** Logs a problem once (it would otherwise repeat at every pause in typing). */
  private note(problem: string): void {
    if (problem === this.lastProblem) return;
    this.lastProblem = problem;
    this.services.engine.output.appendLine(`inline completions: ${problem}`);
  }
}

/** "Micro Steer: Toggle steered inline completions": flips the setting where it is set (the workspace, else the user settings). */
export async function toggleInlineCompletions(services: Services, enable?: boolean): Promise<boolean> {
  const config = vscode.workspace.getConfiguration(SECTION);
  const enabled = enable ?? !inlineSettings().enabled;
  // An untrusted workspace's value does not count (settings.ts): the toggle then sets the user's.
  const inWorkspace = vscode.workspace.isTrusted && config.inspect<boolean>('inlineCompletions.enabled')?.workspaceValue !== undefined;
  await config.update('inlineCompletions.enabled', enabled, inWorkspace ? vscode.ConfigurationTarget.Workspace : vscode.ConfigurationTarget.Global);
  const active = services.planes.active();
  const hint = !enabled ? '' : !active ? ' No plane is active yet: train one from a selection.' : active.problem ? ` The active plane cannot be used: ${active.problem}.` : '';
  void vscode.window.showInformationMessage(`Micro Steer: steered inline completions ${enabled ? 'on' : 'off'}.${hint}`);
  return enabled;
}
