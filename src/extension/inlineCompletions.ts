/**
 * Steered inline completions: ghost text continuing the text before the cursor with the active plane
 * at `microSteer.alpha`. Off by default (`microSteer.inlineCompletions.enabled`).
 *
 * VS Code asks at every keystroke and cancels a request soon after the last one, usually before the
 * engine has finished. So a request waits out the debounce, then joins the engine work for its prompt
 * (starting it when there is none; work for another prompt is cancelled) without tying that work to its
 * own token: the work finishes, its text is kept (CompletionReuse), and if nobody was left waiting for
 * it while the editor still shows that prompt, the suggestion is asked for again and answered from the
 * store at once. While inline completions are on, the engine and the active plane's graphs are warmed
 * (at activation, when switched on, when the model or plane changes), so the first request does not
 * pay for loading the model. Engine work here is background work: it never runs while the engine trains
 * or generates for someone else and gives way to any command that needs the engine. Problems (no model,
 * no plane) go to the output channel, not into pop-ups while the user types.
 */
import * as vscode from 'vscode';
import { CancelledError } from '../engine/errors';
import type { PlaneRecord } from '../protocol';
import { CompletionReuse } from './completionReuse';
import { quietPeriod } from './debounce';
import { textBefore } from './generateCommand';
import { planeSpec } from './planeRecords';
import type { Services } from './services';
import { configuredAlpha, inlineSettings, promptContextChars, samplingOptions, SECTION } from './settings';

/** A short prompt whose one-token continuation loads the tokenizer and opens the plane's graphs. */
const WARM_UP_PROMPT = 'The';

/** Engine work for one prompt, shared by every request that asks for it. */
interface Flight {
  prompt: string;
  setup: string;
  cancel: vscode.CancellationTokenSource;
  /** The completion, or undefined when there is none (cancelled, failed, empty). */
  text: Promise<string | undefined>;
  /** Requests waiting for it now. */
  waiting: number;
  /** A request got its text. */
  answered: boolean;
}

export class SteeredInlineCompletions implements vscode.InlineCompletionItemProvider, vscode.Disposable {
  private readonly reuse = new CompletionReuse();
  private flight: Flight | undefined;
  /** The latest engine work: new work starts once the engine has let go of the previous one. */
  private previous: Promise<unknown> = Promise.resolve();
  private lastProblem: string | undefined;
  private readonly subscriptions: vscode.Disposable[];

  constructor(private readonly services: Services) {
    this.subscriptions = [
      services.planes.onDidChange(() => this.warm()),
      vscode.workspace.onDidChangeConfiguration((e) => {
        const keys = ['inlineCompletions.enabled', 'modelPath', 'device', 'alpha', 'inlineCompletions.maxTokens'];
        if (keys.some((k) => e.affectsConfiguration(`${SECTION}.${k}`))) this.warm();
      }),
    ];
    this.warm();
  }

  async provideInlineCompletionItems(
    document: vscode.TextDocument,
    position: vscode.Position,
    _context: vscode.InlineCompletionContext,
    token: vscode.CancellationToken,
  ): Promise<vscode.InlineCompletionItem[] | undefined> {
    const settings = inlineSettings();
    if (!settings.enabled) return undefined;
    const prompt = textBefore(document, position, promptContextChars());
    if (prompt.trim() === '') return undefined;
    const setup = this.setup(settings.maxTokens);
    const reused = this.reuse.lookup(setup, prompt);
    if (reused !== undefined) return [this.item(reused, position)];
    if (!(await quietPeriod(settings.debounceMs, token))) return undefined;
    if (this.services.engine.busy && !this.flightFor(prompt, setup)) return undefined;

    const flight = this.flightFor(prompt, setup) ?? this.start(prompt, setup, settings.maxTokens, document.uri);
    flight.waiting++;
    try {
      const text = await untilCancelled(flight.text, token);
      if (text === undefined || token.isCancellationRequested) return undefined;
      flight.answered = true;
      return [this.item(text, position)];
    } finally {
      flight.waiting--;
    }
  }

  /** Opens the model and the active plane's graphs in the background while inline completions are on. */
  warm(): void {
    if (!inlineSettings().enabled || this.services.engine.busy) return;
    const active = this.services.planes.active();
    if (!active?.record) return;
    const record = active.record;
    const work = this.previous.then(async () => {
      if (this.services.engine.busy) return;
      const never = new vscode.CancellationTokenSource();
      try {
        await this.generate(record, WARM_UP_PROMPT, 1, never.token);
        this.lastProblem = undefined;
      } catch (e) {
        if (!(e instanceof CancelledError)) this.note((e as Error).message);
      } finally {
        never.dispose();
      }
    });
    this.previous = work;
  }

  dispose(): void {
    this.flight?.cancel.cancel();
    for (const s of this.subscriptions) s.dispose();
  }

  /** What decides a completion besides the prompt: a change of it makes stored completions stale. */
  private setup(maxTokens: number): string {
    const active = this.services.planes.active();
    return JSON.stringify([active?.name, active?.record?.createdAt, configuredAlpha(), maxTokens]);
  }

  private flightFor(prompt: string, setup: string): Flight | undefined {
    const f = this.flight;
    return f && f.prompt === prompt && f.setup === setup ? f : undefined;
  }

  private start(prompt: string, setup: string, maxTokens: number, uri: vscode.Uri): Flight {
    this.flight?.cancel.cancel();
    const cancel = new vscode.CancellationTokenSource();
    const flight: Flight = { prompt, setup, cancel, waiting: 0, answered: false, text: Promise.resolve(undefined) };
    flight.text = this.previous.then(async () => {
      if (cancel.token.isCancellationRequested || this.services.engine.busy) return undefined;
      try {
        const { engine, planes } = this.services;
        const plane = planes.activeFor(await engine.ensureModel());
        const row = (await this.generate(plane.record, prompt, maxTokens, cancel.token)).rows[0];
        this.lastProblem = undefined;
        if (!row || row.stopReason === 'cancelled') return undefined;
        this.reuse.store(setup, prompt, row.text);
        return row.text === '' ? undefined : row.text;
      } catch (e) {
        if (!(e instanceof CancelledError)) this.note((e as Error).message);
        return undefined;
      } finally {
        cancel.dispose();
        if (this.flight === flight) this.flight = undefined;
      }
    });
    this.previous = flight.text;
    void flight.text.then((text) => {
      if (text !== undefined && flight.waiting === 0 && !flight.answered) askAgainIfStillAt(uri, prompt);
    });
    this.flight = flight;
    return flight;
  }

  private generate(record: PlaneRecord, prompt: string, maxTokens: number, token: vscode.CancellationToken) {
    const request = { prompt, rows: [{ plane: planeSpec(record), alpha: configuredAlpha() }], sampling: samplingOptions(maxTokens) };
    return this.services.engine.generate(request, () => undefined, token, true);
  }

  private item(text: string, position: vscode.Position): vscode.InlineCompletionItem {
    return new vscode.InlineCompletionItem(text, new vscode.Range(position, position));
  }

  /** Logs a problem once (it would otherwise repeat at every pause in typing). */
  private note(problem: string): void {
    if (problem === this.lastProblem) return;
    this.lastProblem = problem;
    this.services.engine.output.appendLine(`inline completions: ${problem}`);
  }
}

/** The work's result, or undefined as soon as `token` is cancelled (the work itself goes on). */
function untilCancelled<T>(work: Promise<T | undefined>, token: vscode.CancellationToken): Promise<T | undefined> {
  if (token.isCancellationRequested) return Promise.resolve(undefined);
  return new Promise((resolve) => {
    const subscription = token.onCancellationRequested(() => resolve(undefined));
    void work.then((value) => {
      subscription.dispose();
      resolve(value);
    });
  });
}

/** VS Code gave up on the request before its text came: ask again if the editor still ends at that prompt. */
function askAgainIfStillAt(uri: vscode.Uri, prompt: string): void {
  const editor = vscode.window.activeTextEditor;
  if (!editor || editor.document.uri.toString() !== uri.toString() || !editor.selection.isEmpty) return;
  if (textBefore(editor.document, editor.selection.active, promptContextChars()) !== prompt) return;
  void vscode.commands.executeCommand('editor.action.inlineSuggest.trigger');
}

/** "Micro Steer: Toggle steered inline completions": flips the setting where it is set (the workspace, else the user settings). */
export async function toggleInlineCompletions(services: Services, enable?: boolean): Promise<boolean> {
  const config = vscode.workspace.getConfiguration(SECTION);
  const enabled = enable ?? !inlineSettings().enabled;
  const inWorkspace = config.inspect<boolean>('inlineCompletions.enabled')?.workspaceValue !== undefined;
  await config.update('inlineCompletions.enabled', enabled, inWorkspace ? vscode.ConfigurationTarget.Workspace : vscode.ConfigurationTarget.Global);
  const active = services.planes.active();
  const hint = !enabled ? '' : !active ? ' No plane is active yet: train one from a selection.' : active.problem ? ` The active plane cannot be used: ${active.problem}.` : '';
  void vscode.window.showInformationMessage(`Micro Steer: steered inline completions ${enabled ? 'on' : 'off'}.${hint}`);
  return enabled;
}
