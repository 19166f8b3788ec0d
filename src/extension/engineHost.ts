/**
 * The window's engine: one EngineClient, started on first need (never at activation) with the
 * configured model and device, its log in the "Micro Steer" output channel. It runs one operation at a
 * time: a user's request cancels a background one (an inline completion) and waits for it to stop; two
 * user requests at once are refused with a message, as the engine itself would.
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import { EngineClient, type EngineExit } from '../engine/client';
import { CancelledError, InputError, isInputError } from '../engine/errors';
import type { EngineStatus, GenerateParams, GenerationResult, ModelSummary, PlaneRecord, TrainOptions, TrainProgress } from '../protocol';
import { chooseModelPath, type ModelPathChoice } from './modelPathPolicy';
import { configuredDevice, configuredWeights, SECTION } from './settings';
import type { EngineState } from './statusText';

type Operation = 'training' | 'generating' | 'analysing';

/** No model folder is set, or the one set cannot be opened: the user can fix it by choosing another. */
export class ModelFolderError extends InputError {}

interface Running {
  kind: Operation;
  /** A background operation gives way to a user's request. */
  background: boolean;
  cancel: vscode.CancellationTokenSource;
  done: Promise<unknown>;
}

/** The model the current engine process has open. */
interface Opened {
  modelPath: string;
  device: string;
  weights: string;
  pid: number | undefined;
  status: EngineStatus;
}

export class EngineHost implements vscode.Disposable {
  readonly output: vscode.OutputChannel;
  private client: EngineClient | undefined;
  private opened: Opened | undefined;
  private opening: Promise<ModelSummary> | undefined;
  private running: Running | undefined;
  /** Set when the engine died unexpectedly; cleared, with a message, once a fresh engine answers. */
  private crashed = false;
  private readonly changed = new vscode.EventEmitter<void>();
  /** Fires when the state, device or model changes. */
  readonly onDidChange = this.changed.event;
  private readonly subscriptions: vscode.Disposable[] = [];

  constructor() {
    this.output = vscode.window.createOutputChannel('Micro Steer');
    this.subscriptions.push(
      this.output,
      this.changed,
      vscode.workspace.onDidChangeConfiguration((e) => {
        if (['modelPath', 'device', 'weights'].some((key) => e.affectsConfiguration(`${SECTION}.${key}`))) this.changed.fire();
      }),
    );
  }

  get state(): EngineState {
    if (this.opening) return 'loading';
    if (this.running) return this.running.kind;
    return this.client?.pid === undefined ? 'stopped' : 'idle';
  }

  /** True while a user's operation runs (background work does not count): the inline provider asks nothing then. */
  get busy(): boolean {
    return this.running !== undefined && !this.running.background;
  }

  /** The device the engine runs on once it has run the model, else the configured one. */
  get device(): string {
    return this.opened?.status.device ?? configuredDevice();
  }

  /** The weights format the model runs in, once it has run (e.g. "int8"). */
  get weightsFormat(): string | undefined {
    return this.opened?.status.weights?.format;
  }

  /** The open model, if the engine has one. */
  get model(): ModelSummary | undefined {
    return this.opened?.status.model ?? undefined;
  }

  /** Validates a model folder in the engine process (a hostile config.json must not reach the extension host). */
  inspectModel(modelPath: string): Promise<ModelSummary> {
    return this.startClient().inspectModel({ modelPath });
  }

  /** The configured model folder's name (the one the next request opens); undefined when none is set (or usable here). */
  get modelName(): string | undefined {
    const dir = this.configuredModel().path;
    return dir === undefined ? undefined : path.basename(dir);
  }

  /** Opens the configured model in the engine (starting it) unless it has it open already. */
  ensureModel(): Promise<ModelSummary> {
    const choice = this.configuredModel();
    if (choice.path === undefined) return Promise.reject(new ModelFolderError(choice.reason));
    const device = configuredDevice();
    const weights = configuredWeights();
    const client = this.startClient();
    const opened = this.opened;
    if (opened?.modelPath === choice.path && opened.device === device && opened.weights === weights && opened.pid === client.pid && opened.status.model) {
      return Promise.resolve(opened.status.model);
    }
    const modelPath = choice.path;
    this.opening ??= (async () => {
      this.log(`opening ${modelPath} (device ${device}, weights ${weights})`);
      try {
        const status = await client.openModel({ modelPath, device, weights }).catch((e: unknown) => {
          throw isInputError(e) ? new ModelFolderError(`the model folder ${modelPath} cannot be used: ${e.message}`) : e;
        });
        if (!status.model) throw new Error(`the engine opened ${modelPath} but reports no model`);
        this.opened = { modelPath, device, weights, pid: client.pid, status };
        this.reportRecovery();
        return status.model;
      } finally {
        this.opening = undefined;
        this.changed.fire();
      }
    })();
    this.changed.fire();
    return this.opening;
  }

  private configuredModel(): ModelPathChoice {
    return chooseModelPath(vscode.workspace.getConfiguration(SECTION).inspect<string>('modelPath'), vscode.workspace.isTrusted);
  }

  train(examples: string[], options: TrainOptions, onProgress: (p: TrainProgress) => void, token: vscode.CancellationToken): Promise<PlaneRecord> {
    return this.operate('training', false, token, (client, cancel) => client.train({ examples, options }, onProgress, cancel));
  }

  /**
   * Generates on the open model. A `background` request (inline completions) runs only when the engine is
   * free and gives way to any user request; callers check `busy` first.
   */
  generate(
    request: Omit<GenerateParams, 'requestId'>,
    onDelta: (row: number, text: string) => void,
    token: vscode.CancellationToken,
    background = false,
  ): Promise<GenerationResult> {
    return this.operate('generating', background, token, (client, cancel) => client.generate(request, onDelta, cancel));
  }

  /** Reads hidden states on the open model (mean differences, layer diagnostics, state comparisons): a user request. */
  analyse<T>(run: (client: EngineClient, cancel: vscode.CancellationToken) => Promise<T>, token: vscode.CancellationToken): Promise<T> {
    return this.operate('analysing', false, token, run);
  }

  /** Shuts the engine process down gracefully (deactivation); a later request starts a fresh one. */
  async shutdown(): Promise<void> {
    this.running?.cancel.cancel();
    await this.client?.shutdown();
  }

  dispose(): void {
    this.running?.cancel.cancel();
    this.client?.dispose();
    this.client = undefined;
    for (const s of this.subscriptions) s.dispose();
  }

  private async operate<T>(
    kind: Operation,
    background: boolean,
    token: vscode.CancellationToken,
    run: (client: EngineClient, cancel: vscode.CancellationToken) => Promise<T>,
  ): Promise<T> {
    // Checked again after every wait: the assignment below follows the last check synchronously.
    while (this.running) await this.makeRoom(this.running, kind, background);
    const cancel = new vscode.CancellationTokenSource();
    const follow = token.onCancellationRequested(() => cancel.cancel());
    if (token.isCancellationRequested) cancel.cancel();
    const work = (async () => {
      await this.ensureModel();
      if (cancel.token.isCancellationRequested) throw new CancelledError(kind);
      return run(this.startClient(), cancel.token);
    })();
    const running: Running = { kind, background, cancel, done: work.catch(() => undefined) };
    this.running = running;
    this.changed.fire();
    try {
      const result = await work;
      this.reportRecovery();
      return result;
    } finally {
      follow.dispose();
      cancel.dispose();
      if (this.running === running) this.running = undefined;
      this.changed.fire();
      void this.refreshStatus();
    }
  }

  /** Cancels a background operation for a user's request; refuses when the engine is busy otherwise. */
  private async makeRoom(current: Running, kind: Operation, background: boolean): Promise<void> {
    if (current.background && !background) {
      current.cancel.cancel();
      await current.done;
      return;
    }
    throw new InputError(`the engine is busy ${current.kind}: cancel that first (cannot start ${kind} meanwhile)`);
  }

  /** The engine chooses its device when it first runs the model: ask it afterwards, for the status bar. */
  private async refreshStatus(): Promise<void> {
    const opened = this.opened;
    if (!opened || !this.client || this.client.pid !== opened.pid || this.running) return;
    try {
      const status = await this.client.status();
      if (status.fallbackReason && status.fallbackReason !== opened.status.fallbackReason) this.log(`running on the CPU: ${status.fallbackReason}`);
      if (status.weights && status.weights.reason !== opened.status.weights?.reason) this.log(status.weights.reason);
      opened.status = status;
      this.changed.fire();
    } catch {
      // The engine went away meanwhile; its exit handler reports it.
    }
  }

  private startClient(): EngineClient {
    if (this.client) return this.client;
    const client = new EngineClient({ onStderr: (text) => this.output.append(text) });
    client.onDidExit((exit) => this.onExit(exit));
    this.client = client;
    return client;
  }

  private onExit(exit: EngineExit): void {
    this.changed.fire();
    if (exit.expected) return;
    this.crashed = true;
    const how = exit.signal ? `signal ${exit.signal}` : `exit code ${exit.code}`;
    this.log(`the engine process stopped unexpectedly (${how})`);
    void vscode.window
      .showErrorMessage(`Micro Steer: the engine stopped unexpectedly (${how}). It starts again with the next request.`, 'Show log')
      .then((choice) => choice && this.output.show(true));
  }

  private reportRecovery(): void {
    if (!this.crashed || this.client?.pid === undefined) return;
    this.crashed = false;
    this.log('the engine restarted after a crash');
    void vscode.window.showInformationMessage('Micro Steer: the engine restarted after a crash.');
  }

  private log(line: string): void {
    this.output.appendLine(`[${new Date().toISOString()}] ${line}`);
  }
}
