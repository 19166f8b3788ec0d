/**
 * The steering panel's host side: one webview panel that compares completions for several alphas side by
 * side. The class owns the panel's whole lifecycle (create or reveal, restore after a reload through a
 * serializer, dispose), renders the page with a strict CSP, checks every message from the webview, and
 * runs each comparison as ONE batched generation through the injected PanelBackend. It holds no model
 * state: planes, generation and editor access come from the backend.
 */
import { randomBytes } from 'node:crypto';
import * as vscode from 'vscode';
import { panelHtml } from '../../webview/panelHtml';
import { ModelFolderError } from './engineHost';
import { parseWebviewMessage } from './panelMessages';
import { freshSeed } from './settings';
import type {
  GenerationResult,
  HostToWebviewMessage,
  PanelGenerateParams,
  PanelPlane,
  PanelRun,
  PanelVector,
  WebviewToHostMessage,
} from '../protocol';

export const STEERING_PANEL_VIEW_TYPE = 'microSteer.panel';

/** What the panel needs from the rest of the extension; the extension wires it to the engine client and settings. */
export interface PanelBackend {
  /** The usable planes of the settings (malformed ones already skipped and reported). */
  listPlanes(): PanelPlane[];
  /** The usable mean-difference vectors of the settings. */
  listVectors(): PanelVector[];
  /** Name of `microSteer.activePlane`, if set. */
  activePlane(): string | undefined;
  /** Makes a listed plane the active plane (the one source of truth the panel and every command follow). */
  setActivePlane(name: string): Promise<void>;
  /** Fires when planes, vectors or the active plane change (settings edited, a plane trained). */
  readonly onDidChangePlanes: vscode.Event<void>;
  /** The model and the engine for the status line, e.g. "Model tiny-gemma2 · engine ready on cpu." */
  engineState(): string;
  /** Why a comparison cannot start now (the engine works for another command), or undefined when it can. */
  engineBusy(): string | undefined;
  /** A model folder is set (and usable in this workspace). */
  hasModel(): boolean;
  readonly onDidChangeEngineState: vscode.Event<void>;
  /**
   * Continues the prompt once per alpha in ONE batched engine run with the named plane (or, with
   * `steerWith: 'vector'`, the named vector times each alpha). Alpha 0 is the unsteered baseline: its row
   * carries no plane (with a plane, alpha 0 still moves latents above -b).
   * With `ablate`, one more row after the alphas: alpha 0 with the vector's direction ablated at its layers.
   * `onDelta(column, text)` streams text appended to column `column` (the index into `alphas`, then the
   * ablation row); the result's rows are in the same order. Cancelled through `token`: resolve with the partial rows or reject.
   */
  generate(
    params: PanelGenerateParams & { sampling: { seed: number } },
    onDelta: (column: number, text: string) => void,
    token: vscode.CancellationToken,
  ): Promise<GenerationResult>;
  /**
   * Inserts text at the cursor of the editor the user last worked in (while the panel has focus,
   * `window.activeTextEditor` is undefined: track the last one), shows it and selects the inserted text.
   * Resolves with where it went ("notes.txt at line 3"), or undefined when there is no editor.
   */
  insertText(text: string): Promise<string | undefined>;
  /** Logs something the user need not see (an invalid message from the webview). */
  logWarning(message: string): void;
}

export class SteeringPanel implements vscode.Disposable {
  private static current: SteeringPanel | undefined;

  /** The open panel, if any. */
  static get open(): SteeringPanel | undefined {
    return SteeringPanel.current;
  }

  /** Reveals the panel where it is, or opens it beside the active editor. */
  static createOrShow(context: vscode.ExtensionContext, backend: PanelBackend): SteeringPanel {
    if (SteeringPanel.current) {
      SteeringPanel.current.panel.reveal();
      return SteeringPanel.current;
    }
    const column = vscode.window.activeTextEditor ? vscode.ViewColumn.Beside : vscode.ViewColumn.Active;
    const panel = vscode.window.createWebviewPanel(STEERING_PANEL_VIEW_TYPE, 'Micro Steer', column, {
      ...webviewOptions(context.extensionUri),
      // The webview saves its state (setState) and the host resends the running comparison on `ready`.
      retainContextWhenHidden: false,
    });
    return new SteeringPanel(panel, context.extensionUri, backend);
  }

  /** Restores a panel VS Code kept across a reload; register at activation (`onWebviewPanel:microSteer.panel`). */
  static registerSerializer(context: vscode.ExtensionContext, backend: PanelBackend): vscode.Disposable {
    return vscode.window.registerWebviewPanelSerializer(STEERING_PANEL_VIEW_TYPE, {
      deserializeWebviewPanel: async (panel: vscode.WebviewPanel) => {
        // The saved state stays with the webview (vscode.getState), which checks it when it loads.
        SteeringPanel.current?.dispose();
        panel.webview.options = webviewOptions(context.extensionUri);
        new SteeringPanel(panel, context.extensionUri, backend);
      },
    });
  }

  private readonly disposables: vscode.Disposable[] = [];
  private disposed = false;
  private run: PanelRun | undefined;
  private lastRunId = 0;
  private cancellation: vscode.CancellationTokenSource | undefined;
  private notice: string | undefined;

  private constructor(
    private readonly panel: vscode.WebviewPanel,
    extensionUri: vscode.Uri,
    private readonly backend: PanelBackend,
  ) {
    SteeringPanel.current = this;
    panel.iconPath = vscode.Uri.joinPath(extensionUri, 'media', 'steer.svg');
    const webview = panel.webview;
    webview.html = panelHtml({
      cspSource: webview.cspSource,
      nonce: randomBytes(16).toString('base64'),
      scriptUri: webview.asWebviewUri(vscode.Uri.joinPath(extensionUri, 'dist', 'webview.js')).toString(),
      styleUri: webview.asWebviewUri(vscode.Uri.joinPath(extensionUri, 'media', 'panel.css')).toString(),
    });
    this.disposables.push(
      panel.onDidDispose(() => this.dispose()),
      webview.onDidReceiveMessage((raw: unknown) => void this.receive(raw)),
      backend.onDidChangePlanes(() => this.sendPlanes()),
      backend.onDidChangeEngineState(() => this.sendEngineState()),
    );
  }

  /** The comparison shown (running or last ended), for tests and commands. */
  get currentRun(): PanelRun | undefined {
    return this.run;
  }

  /** The last notice shown on the status line, for tests. */
  get lastNotice(): string | undefined {
    return this.notice;
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    if (SteeringPanel.current === this) SteeringPanel.current = undefined;
    this.cancellation?.cancel();
    this.panel.dispose();
    for (const d of this.disposables.splice(0)) d.dispose();
  }

  private post(message: HostToWebviewMessage): void {
    if (message.type === 'notice') this.notice = message.text;
    if (!this.disposed) void this.panel.webview.postMessage(message);
  }

  /** Handles a message as the webview sends it (untrusted: checked first); resolves when it has been handled. */
  receive(raw: unknown): Promise<void> {
    let message: WebviewToHostMessage;
    try {
      message = parseWebviewMessage(raw);
    } catch (e) {
      this.backend.logWarning(`Steering panel: ignored a message from the webview: ${(e as Error).message}`);
      return Promise.resolve();
    }
    return this.handle(message).catch((e: unknown) => {
      this.post({ type: 'notice', level: 'error', text: (e as Error)?.message ?? String(e), ...modelProblem(e) });
    });
  }

  private async handle(message: WebviewToHostMessage): Promise<void> {
    switch (message.type) {
      case 'ready':
        // A (re)loaded page: it may have missed deltas while hidden, so it gets the whole run.
        this.sendPlanes();
        this.sendEngineState();
        if (this.run) this.post({ type: 'run', run: this.run });
        return;
      case 'generate':
        return this.generate(message.params);
      case 'stop':
        this.cancellation?.cancel();
        return;
      case 'selectModelFolder':
        await vscode.commands.executeCommand('microSteer.selectModelFolder');
        return;
      case 'copy':
        await vscode.env.clipboard.writeText(message.text);
        this.post({ type: 'notice', level: 'info', text: 'Copied to the clipboard.' });
        return;
      case 'selectPlane':
        if (!this.backend.listPlanes().some((p) => p.name === message.name)) {
          this.post({ type: 'notice', level: 'error', text: `There is no plane named "${message.name}".` });
          return;
        }
        return this.backend.setActivePlane(message.name);
      case 'insert': {
        const where = await this.backend.insertText(message.text);
        this.post(
          where
            ? { type: 'notice', level: 'info', text: `Inserted into ${where}.` }
            : { type: 'notice', level: 'error', text: 'No editor to insert into: open a file first.' },
        );
        return;
      }
    }
  }

  private sendPlanes(): void {
    try {
      this.post({ type: 'planes', planes: this.backend.listPlanes(), activePlane: this.backend.activePlane() ?? null, vectors: this.backend.listVectors() });
    } catch (e) {
      this.post({ type: 'notice', level: 'error', text: `Could not list the planes: ${(e as Error).message}` });
    }
  }

  private sendEngineState(): void {
    const busy = this.backend.engineBusy();
    this.post({ type: 'engineState', text: this.backend.engineState(), ...(busy ? { busy } : {}), ...(this.backend.hasModel() ? {} : { noModel: true }) });
  }

  private async generate(params: PanelGenerateParams): Promise<void> {
    if (this.run?.state === 'running') {
      this.post({ type: 'notice', level: 'error', text: 'A comparison is already running: stop it first.' });
      return;
    }
    // Refused before anything changes: the columns shown stay.
    const busy = this.backend.engineBusy();
    if (busy) {
      this.post({ type: 'notice', level: 'error', text: `${busy}: Generate works again when it ends.` });
      return;
    }
    const kind = params.steerWith ?? 'plane';
    const names = (kind === 'vector' ? this.backend.listVectors() : this.backend.listPlanes()).map((p) => p.name);
    if (!names.includes(params.planeName)) {
      const known = names.length ? `known ${kind}s: ${names.join(', ')}` : `no ${kind}s are stored yet`;
      this.post({ type: 'notice', level: 'error', text: `There is no ${kind} named "${params.planeName}" (${known}).` });
      return;
    }
    const cancellation = new vscode.CancellationTokenSource();
    const seed = params.sampling.seed ?? freshSeed();
    const shown = this.run;
    const run: PanelRun = {
      runId: ++this.lastRunId,
      planeName: params.planeName,
      seed,
      state: 'running',
      columns: [
        ...params.alphas.map((alpha) => ({ alpha, text: '' })),
        ...(params.ablate ? [{ alpha: 0, ablation: params.ablate, text: '' }] : []),
      ],
    };
    this.run = run;
    this.cancellation = cancellation;
    this.post({ type: 'run', run });
    try {
      const result = await this.backend.generate(
        { ...params, sampling: { ...params.sampling, seed } },
        (column, text) => {
          const target = run.columns[column];
          if (!target || run.state !== 'running') return;
          target.text += text;
          this.post({ type: 'delta', runId: run.runId, column, text });
        },
        cancellation.token,
      );
      // The result is authoritative: its texts are the whole decodes the deltas were cut from.
      result.rows.forEach((row, i) => {
        const column = run.columns[i];
        if (column) Object.assign(column, { text: row.text, tokens: row.tokens, stopReason: row.stopReason });
      });
      run.state = cancellation.token.isCancellationRequested ? 'cancelled' : 'done';
    } catch (e) {
      if (cancellation.token.isCancellationRequested) run.state = 'cancelled';
      else {
        run.state = 'failed';
        run.error = e instanceof Error ? e.message : String(e);
        Object.assign(run, modelProblem(e));
      }
    } finally {
      if (this.cancellation === cancellation) this.cancellation = undefined;
      cancellation.dispose();
    }
    // A run that failed before any text came replaces nothing: the previous columns come back, the error beside them.
    if (run.state === 'failed' && shown && run.columns.every((c) => c.text === '')) {
      this.run = shown;
      this.post({ type: 'run', run: shown });
      this.post({ type: 'notice', level: 'error', text: `Generation failed: ${run.error ?? 'unknown error'}`, ...(run.modelProblem ? { modelProblem: true } : {}) });
      return;
    }
    this.post({ type: 'run', run });
  }
}

/** `{ modelProblem: true }` for an error the user fixes by choosing another model folder. */
function modelProblem(e: unknown): { modelProblem?: true } {
  return e instanceof ModelFolderError ? { modelProblem: true } : {};
}

function webviewOptions(extensionUri: vscode.Uri): vscode.WebviewOptions {
  return {
    enableScripts: true,
    localResourceRoots: [vscode.Uri.joinPath(extensionUri, 'dist'), vscode.Uri.joinPath(extensionUri, 'media')],
  };
}
