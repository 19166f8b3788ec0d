/**
 * Steered inline completions: ghost text continuing the text before the cursor with the active plane
 * at `microSteer.alpha`. Off by default (`microSteer.inlineCompletions.enabled`).
 *
 * VS Code asks at every keystroke and cancels a request soon after the last one, usually before the
 * engine has finished. So a request waits out the debounce, then joins the engine work for its prompt
 * (starting it when there is none; work for another prompt is cancelled) without tying that work to its
 * own token, and is answered with the first few words as soon as they stream in. The work finishes, its
 * whole text is kept (CompletionReuse), and if the editor still shows that prompt while nobody got the
 * whole text, the suggestion is asked for again and answered from the store at once. While inline
 * completions are on, the engine and the active plane's graphs are warmed (at activation, when switched
 * on, when the model or plane changes), so the first request does not pay for loading the model. Engine work here is background work: it never runs while the engine trains
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
/** Streamed characters that are worth showing before the rest comes: a word or two. */
const FIRST_WORDS_CHARS = 12;

/** Engine work for one prompt, shared by every request that asks for it. */
interface Flight {
  prompt: string;
  setup: string;
  cancel: vscode.CancellationTokenSource;
  /** The completion, or undefined when there is none (cancelled, failed, empty). */
  text: Promise<string | undefined>;
  /** Its first words as they stream in (or the whole text, if shorter). */
  firstWords: Promise<string | undefined>;
  /** Requests waiting for it now. */
  waiting: number;
  /** The text a request was answered with. */
  answered: string | undefined;
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
      const text = await untilCancelled(flight.firstWords, token);
      if (text === undefined || token.isCancellationRequested) return undefined;
      flight.answered = text;
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

  /** Resolves once the engine work this provider started (warm-ups, completions) has finished and stored its text. */
  async settled(): Promise<void> {
    for (let work = this.previous; ; work = this.previous) {
      await work;
      if (work === this.previous) return;
    }
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
    let streamed = '';
    let showFirstWords: (text: string | undefined) => void = () => undefined;
    const firstWords = new Promise<string | undefined>((resolve) => (showFirstWords = resolve));
    const onDelta = (text: string): void => {
      streamed += text;
      if (streamed.trim().length >= FIRST_WORDS_CHARS) showFirstWords(streamed);
    };
    const flight: Flight = { prompt, setup, cancel, waiting: 0, answered: undefined, text: Promise.resolve(undefined), firstWords };
    flight.text = this.previous.then(async () => {
      if (cancel.token.isCancellationRequested || this.services.engine.busy) return undefined;
      try {
        const { engine, planes } = this.services;
        const plane = planes.activeFor(await engine.ensureModel());
        const row = (await this.generate(plane.record, prompt, maxTokens, cancel.token, onDelta)).rows[0];
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
      showFirstWords(text);
      // Shown the first words only, or nothing (VS Code gave up): show the whole text now.
      if (text !== undefined && flight.waiting === 0 && flight.answered !== text) askAgainIfStillAt(uri, prompt);
    });
    this.flight = flight;
    return flight;
  }

  private generate(record: PlaneRecord, prompt: string, maxTokens: number, token: vscode.CancellationToken, onDelta: (text: string) => void = () => undefined) {
    const request = { prompt, promptFit: 'end' as const, rows: [{ plane: planeSpec(record), alpha: configuredAlpha() }], sampling: samplingOptions(maxTokens) };
    return this.services.engine.generate(request, (_row, text) => onDelta(text), token, true);
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
  // An untrusted workspace's value does not count (settings.ts): the toggle then sets the user's.
  const inWorkspace = vscode.workspace.isTrusted && config.inspect<boolean>('inlineCompletions.enabled')?.workspaceValue !== undefined;
  await config.update('inlineCompletions.enabled', enabled, inWorkspace ? vscode.ConfigurationTarget.Workspace : vscode.ConfigurationTarget.Global);
  const active = services.planes.active();
  const hint = !enabled ? '' : !active ? ' No plane is active yet: train one from a selection.' : active.problem ? ` The active plane cannot be used: ${active.problem}.` : '';
  void vscode.window.showInformationMessage(`Micro Steer: steered inline completions ${enabled ? 'on' : 'off'}.${hint}`);
  return enabled;
}
