/**
 * The engine's client, shared by the extension and the CLI: runs the engine process (dist/engine.js)
 * and calls it over JSON-RPC with typed methods. When the process dies, every pending request fails
 * with an error that says so, `onDidExit` fires, and the next request starts a fresh engine and
 * re-opens the last model before it runs. Errors the engine marked as bad input come back as
 * InputError, cancelled requests as CancelledError.
 *
 * Loaded by the extension host: it must not import onnxruntime, transformers or anything that does.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import {
  CancellationTokenSource,
  Emitter,
  ErrorCodes,
  ResponseError,
  StreamMessageReader,
  StreamMessageWriter,
  createMessageConnection,
  type CancellationToken,
  type Event,
  type MessageConnection,
} from 'vscode-jsonrpc/node';
import {
  EngineErrorCodes,
  EngineMethods,
  type CompareStatesParams,
  type EngineErrorData,
  type EngineStatus,
  type LayerDiagnostics,
  type LayerDiagnosticsParams,
  type MeanDifferenceParams,
  type MeanDifferenceRecord,
  type ModelSummary,
  type StateComparison,
  type GenerateParams,
  type GenerationResult,
  type OpenModelParams,
  type PlaneRecord,
  type TokenNotification,
  type TrainParams,
  type TrainProgress,
  type TrainProgressNotification,
} from '../protocol';
import { modelProcessEnv } from './processEnv';
import { CancelledError, InputError } from './errors';

export interface EngineClientOptions {
  /** The engine bundle (default: engine.js beside this bundle, i.e. dist/engine.js). */
  enginePath?: string;
  /** The Node executable (default: this process's; in the extension host, Electron run as Node). */
  execPath?: string;
  /** Receives the engine's stderr, its log (default: this process's stderr). */
  onStderr?: (text: string) => void;
}

/** How an engine process ended; `expected` after shutdown() or dispose(). */
export interface EngineExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  expected: boolean;
}

/** An AbortSignal, or a CancellationToken (vscode's and vscode-jsonrpc's have the same shape). */
export type Cancellation = AbortSignal | CancellationToken;

/** An internal error of the engine; `name` is its class there, `lastGood` the trainer's last good plane when it has one. */
export class EngineError extends Error {
  constructor(
    message: string,
    override readonly name: string,
    readonly lastGood?: unknown,
    engineStack?: string,
  ) {
    super(message);
    if (engineStack) this.stack = engineStack;
  }
}

export class EngineClient {
  private engine: EngineProcess | undefined;
  /** What the last successful openModel opened: a fresh engine opens it again. */
  private lastModel: OpenModelParams | undefined;
  private disposed = false;
  private nextRequestId = 1;
  private readonly progressListeners = new Map<string, (p: TrainProgress) => void>();
  private readonly deltaListeners = new Map<string, (row: number, text: string) => void>();
  private readonly exitEmitter = new Emitter<EngineExit>();
  /** Fires whenever an engine process ends; when not `expected`, the next request starts a fresh one. */
  readonly onDidExit: Event<EngineExit> = this.exitEmitter.event;

  constructor(private readonly options: EngineClientOptions = {}) {}

  /** The running engine's process id, if one runs. */
  get pid(): number | undefined {
    return this.engine?.alive ? this.engine.pid : undefined;
  }

  async openModel(params: OpenModelParams): Promise<EngineStatus> {
    const engine = this.running();
    const status = await engine.request<EngineStatus>(EngineMethods.openModel, params);
    engine.openedModel = params;
    this.lastModel = params;
    return status;
  }

  /** Validates and summarises a model folder in the engine process, without opening it. */
  inspectModel(params: { modelPath: string }): Promise<ModelSummary> {
    return this.call<ModelSummary>(EngineMethods.inspectModel, params);
  }

  status(): Promise<EngineStatus> {
    return this.call<EngineStatus>(EngineMethods.status);
  }

  /** Trains a plane; `onProgress` gets every step. Cancelling fails the request with CancelledError, whose `lastGood` is the plane so far. */
  train(params: Omit<TrainParams, 'requestId'>, onProgress?: (p: TrainProgress) => void, cancel?: Cancellation): Promise<PlaneRecord> {
    return this.withListener(this.progressListeners, onProgress, (requestId) =>
      this.call<PlaneRecord>(EngineMethods.train, { ...params, requestId } satisfies TrainParams, cancel),
    );
  }

  /** Generates the rows; `onDelta` gets each row's text as it comes. Cancelling returns the rows so far, marked 'cancelled'. */
  generate(params: Omit<GenerateParams, 'requestId'>, onDelta?: (row: number, text: string) => void, cancel?: Cancellation): Promise<GenerationResult> {
    return this.withListener(this.deltaListeners, onDelta, (requestId) =>
      this.call<GenerationResult>(EngineMethods.generate, { ...params, requestId } satisfies GenerateParams, cancel),
    );
  }

  /** Mean-difference vectors of two example sets (cancelling fails the request with CancelledError). */
  meanDifference(params: MeanDifferenceParams, cancel?: Cancellation): Promise<MeanDifferenceRecord> {
    return this.call<MeanDifferenceRecord>(EngineMethods.meanDifference, params, cancel);
  }

  /** Per-layer diagnostics of two contrastive example sets. */
  layerDiagnostics(params: LayerDiagnosticsParams, cancel?: Cancellation): Promise<LayerDiagnostics> {
    return this.call<LayerDiagnostics>(EngineMethods.layerDiagnostics, params, cancel);
  }

  /** One token's hidden states in two prompts compared per layer. */
  compareStates(params: CompareStatesParams, cancel?: Cancellation): Promise<StateComparison> {
    return this.call<StateComparison>(EngineMethods.compareStates, params, cancel);
  }

  /** Stops the engine process gracefully; a later request starts a fresh one (with the last model). */
  async shutdown(): Promise<void> {
    const engine = this.engine;
    if (!engine?.alive) return;
    engine.expected = true;
    await engine.request(EngineMethods.shutdown).catch(() => undefined);
    await engine.stop();
  }

  /** Kills the engine process; the client accepts no more requests. */
  dispose(): void {
    this.disposed = true;
    if (this.engine?.alive) {
      this.engine.expected = true;
      this.engine.kill();
    }
    this.exitEmitter.dispose();
  }

  private async withListener<L, R>(listeners: Map<string, L>, listener: L | undefined, run: (requestId: string) => Promise<R>): Promise<R> {
    const requestId = `${process.pid}-${this.nextRequestId++}`;
    if (listener) listeners.set(requestId, listener);
    try {
      return await run(requestId);
    } finally {
      listeners.delete(requestId);
    }
  }

  /** A request on the running engine, after re-opening the last model there if the engine is fresh. */
  private async call<R>(method: string, params?: object, cancel?: Cancellation): Promise<R> {
    const engine = this.running();
    const last = this.lastModel;
    if (last && engine.openedModel !== last) {
      engine.reopening ??= engine.request(EngineMethods.openModel, last).then(
        () => void (engine.openedModel = last),
        (e: Error) => {
          if (this.lastModel === last) this.lastModel = undefined;
          const message = `the engine restarted but could not open ${last.modelPath} again: ${e.message}`;
          throw e instanceof InputError ? new InputError(message) : new Error(message);
        },
      );
      await engine.reopening;
    }
    const { token, dispose } = cancellationToken(cancel);
    try {
      return await engine.request<R>(method, params, token);
    } finally {
      dispose();
    }
  }

  /** The engine process, started if none runs. */
  private running(): EngineProcess {
    if (this.disposed) throw new Error('the Micro Steer engine client has been disposed');
    if (this.engine?.alive) return this.engine;
    const enginePath = this.options.enginePath ?? path.join(__dirname, 'engine.js');
    if (!existsSync(enginePath)) throw new Error(`the Micro Steer engine bundle ${enginePath} is missing (run \`npm run build\`)`);
    const engine = new EngineProcess(enginePath, this.options, (exit) => this.exitEmitter.fire(exit));
    engine.connection.onNotification(EngineMethods.trainProgress, (n: TrainProgressNotification) => this.progressListeners.get(n.requestId)?.(n.progress));
    engine.connection.onNotification(EngineMethods.token, (n: TokenNotification) => this.deltaListeners.get(n.requestId)?.(n.row, n.text));
    engine.connection.listen();
    this.engine = engine;
    return engine;
  }
}

/** One engine process and its connection. */
class EngineProcess {
  readonly connection: MessageConnection;
  readonly exited: Promise<EngineExit>;
  /** Set before a shutdown or kill, so that its exit is not reported as a crash. */
  expected = false;
  openedModel: OpenModelParams | undefined;
  reopening: Promise<void> | undefined;
  private readonly child: ChildProcessWithoutNullStreams;
  private exit: EngineExit | undefined;
  private readonly pending = new Set<(e: Error) => void>();

  constructor(enginePath: string, options: EngineClientOptions, onExit: (exit: EngineExit) => void) {
    this.child = spawn(options.execPath ?? process.execPath, [enginePath], {
      stdio: 'pipe',
      // The extension host's executable is Electron: this makes it run the engine as plain Node.
      env: { ...modelProcessEnv(), ELECTRON_RUN_AS_NODE: '1' },
      windowsHide: true,
    });
    const onStderr = options.onStderr ?? ((text: string) => process.stderr.write(text));
    this.child.stderr.setEncoding('utf8').on('data', onStderr);
    // A write to an engine that just died fails with EPIPE: its exit is reported below instead.
    this.child.stdin.on('error', () => undefined);
    this.connection = createMessageConnection(new StreamMessageReader(this.child.stdout), new StreamMessageWriter(this.child.stdin));
    this.exited = new Promise((resolve) => {
      const ended = (code: number | null, signal: NodeJS.Signals | null, why?: string) => {
        if (this.exit) return;
        this.exit = { code, signal, expected: this.expected };
        const error = new Error(
          this.expected
            ? 'the Micro Steer engine process was shut down'
            : `the Micro Steer engine process exited unexpectedly (code ${code}, signal ${signal})${why ? `: ${why}` : ''}${signal === 'SIGKILL' ? '; something killed it, often the system running out of memory' : ''}`,
        );
        for (const reject of this.pending) reject(error);
        this.pending.clear();
        this.connection.dispose();
        onExit(this.exit);
        resolve(this.exit);
      };
      this.child.on('exit', (code, signal) => ended(code, signal));
      this.child.on('error', (e) => ended(null, null, e.message));
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get alive(): boolean {
    return this.exit === undefined;
  }

  request<R>(method: string, params?: object, token?: CancellationToken): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      if (this.exit) return reject(new Error(`the Micro Steer engine process has exited (code ${this.exit.code}, signal ${this.exit.signal})`));
      this.pending.add(reject);
      // A trailing undefined would be sent as a second positional parameter: pass only what there is.
      const sent = this.connection.sendRequest<R>(method, ...([params, token].filter((a) => a !== undefined) as [object?, CancellationToken?]));
      sent
        .then(resolve, async (e: unknown) => {
          if (!isTransportFailure(e)) return reject(fromResponseError(e as ResponseError<EngineErrorData | undefined>));
          // The connection failed: the process is going or gone, and its exit will reject us; wait for it a moment.
          await Promise.race([this.exited, new Promise((r) => setTimeout(r, 2000).unref())]);
          reject(new Error(`the Micro Steer engine connection failed: ${(e as Error).message}`));
        })
        .finally(() => this.pending.delete(reject));
    });
  }

  /** Closes the engine's input (it exits when it sees that), then kills it if it has not exited within `graceMs`. */
  async stop(graceMs = 3000): Promise<void> {
    this.child.stdin.end();
    const timer = setTimeout(() => this.kill(), graceMs);
    await this.exited;
    clearTimeout(timer);
  }

  kill(): void {
    this.child.kill();
  }
}

/** vscode-jsonrpc's own errors for a connection that failed (not an answer of the engine). */
function isTransportFailure(e: unknown): boolean {
  const transport: number[] = [ErrorCodes.MessageWriteError, ErrorCodes.MessageReadError, ErrorCodes.PendingResponseRejected, ErrorCodes.ConnectionInactive];
  return !(e instanceof ResponseError) || transport.includes(e.code);
}

function fromResponseError(e: ResponseError<EngineErrorData | undefined>): Error {
  if (e.code === EngineErrorCodes.input) return new InputError(e.message);
  if (e.code === EngineErrorCodes.cancelled) return Object.assign(new CancelledError('the request', e.data?.lastGood), { message: e.message });
  return new EngineError(e.message, e.data?.name ?? 'Error', e.data?.lastGood, e.data?.stack);
}

/** A CancellationToken for vscode-jsonrpc that follows `cancel`. */
function cancellationToken(cancel: Cancellation | undefined): { token: CancellationToken | undefined; dispose(): void } {
  if (!cancel || !('aborted' in cancel)) return { token: cancel, dispose: () => undefined };
  const source = new CancellationTokenSource();
  const abort = () => source.cancel();
  if (cancel.aborted) abort();
  else cancel.addEventListener('abort', abort, { once: true });
  return {
    token: source.token,
    dispose: () => {
      cancel.removeEventListener('abort', abort);
      source.dispose();
    },
  };
}
