/**
 * The engine in one object: one open model at a time, its tokenizer (loaded on first use) and its
 * runners (one per hook layer, opened on demand), and one long operation (training or generation) at
 * a time. The engine process (server.ts) serves it over JSON-RPC; tests use it in-process.
 *
 * A second long operation while one runs is refused, not queued: the extension and the CLI cancel the
 * running one when they want another, and a queue would hide a forgotten run behind a silent wait.
 */
import * as path from 'node:path';
import type {
  CompareStatesParams,
  EngineStatus,
  GenerationResult,
  GenerateParams,
  LayerDiagnostics,
  LayerDiagnosticsParams,
  MeanDifferenceParams,
  MeanDifferenceRecord,
  PlaneRecord,
  StateComparison,
  TrainParams,
  TrainProgress,
} from '../protocol';
import { CancelledError, InputError } from './errors';
import { Gemma2Runner } from './gemma2/runner';
import { generate, type GenerationRunner } from './generate/generator';
import { compareHiddenStates } from './methods/hiddenStates';
import { layerDiagnostics } from './methods/layerDiagnostics';
import { meanDifference } from './methods/meanDifference';
import { checkModelIdentity } from './methods/vectorFile';
import { decodeFloat32Values } from './plane';
import { defaultHookLayer } from './model/config';
import { inspectModelFolder, openModelFolder } from './model/modelFolder';
import type { ModelFolder, ModelSummary } from './model/types';
import type { Device } from './runtime/session';
import type { WeightsSetting } from './weights/weightsFormat';
import { loadTokenizer, type Tokenizer } from './tokenizer';
import { trainPlane, type TrainingRunner } from './train/trainer';

export type TrainRequest = Omit<TrainParams, 'requestId'>;
export type GenerateRequest = Omit<GenerateParams, 'requestId'>;
type Operation = NonNullable<EngineStatus['busy']>;

export interface EngineOptions {
  /**
   * Runners kept open at once (default 1). Each holds its own copy of the weights (onnxruntime copies
   * initializers into every session), so a plane at another layer replaces the open runner.
   */
  maxRunners?: number;
  /** Where compiled graphs go when the model folder is read-only. */
  cacheDir?: string;
}

export class Engine {
  private model: OpenModel | null = null;
  /** The latest openModel, so that operations start after it. */
  private opening: Promise<unknown> = Promise.resolve();
  private busy: Operation | null = null;

  constructor(private readonly options: EngineOptions = {}) {}

  /** Opens and validates a model folder, releasing the previous model; the same model, device and weights again keep what is loaded. */
  async openModel(modelPath: string, device: Device = 'auto', weights: WeightsSetting = 'auto'): Promise<EngineStatus> {
    this.refuseWhileBusy('open a model');
    const load = this.opening.then(() => this.load(path.resolve(modelPath), device, weights));
    this.opening = load.catch(() => undefined);
    await load;
    return this.status();
  }

  /** Validates a model folder and summarises it, without opening it (the extension host never parses model files). */
  inspectModel(modelPath: string): Promise<ModelSummary> {
    return inspectModelFolder(path.resolve(modelPath));
  }

  status(): EngineStatus {
    const runner = this.model?.lastRunner;
    return {
      model: this.model?.summary ?? null,
      device: runner?.device ?? null,
      fallbackReason: runner?.fallbackReason ?? null,
      weights: runner?.weights ?? null,
      busy: this.busy,
    };
  }

  /** Trains a plane on the examples at options.layer (default floor(layers / 2)). */
  train(request: TrainRequest, onProgress?: (p: TrainProgress) => void, signal?: AbortSignal): Promise<PlaneRecord> {
    return this.operate('training', async (model) => {
      const runner = await model.runner(request.options.layer ?? defaultHookLayer(model.folder.config));
      try {
        return await trainPlane(trainingRunner(runner, signal), await model.tokenizer(), request.examples, request.options, { onProgress, signal });
      } finally {
        // Generation, which comes next, needs only the forward graph: the memory goes back.
        await runner.releaseTraining();
      }
    });
  }

  /** Generates every row in one batched run; the rows' planes must share one layer and come from this model. */
  generate(request: GenerateRequest, onDelta?: (row: number, text: string) => void, signal?: AbortSignal): Promise<GenerationResult> {
    return this.operate('generating', async (model) => {
      const layer = planeLayer(request, model.folder);
      const runner = layer === undefined ? await model.anyRunner() : await model.runner(layer);
      const result = await generate(generationRunner(runner), await model.tokenizer(), request, { onDelta, signal });
      return { rows: result.rows.map(({ text, tokens, stopReason }) => ({ text, tokens, stopReason })) };
    });
  }

  /** Mean-difference vectors of the two sets at every layer (or `layers`), tagged with this model. */
  meanDifference(request: MeanDifferenceParams, signal?: AbortSignal): Promise<MeanDifferenceRecord> {
    return this.operate('analysing', async (model) => {
      const { source, target, ...options } = request;
      return (await meanDifference(await model.anyRunner(), await model.tokenizer(), source, target, { ...options, signal })).record;
    });
  }

  /** Per-layer diagnostics of two contrastive sets and the layer they suggest. */
  layerDiagnostics(request: LayerDiagnosticsParams, signal?: AbortSignal): Promise<LayerDiagnostics> {
    return this.operate('analysing', async (model) => {
      const { a, b, ...options } = request;
      return layerDiagnostics(await model.anyRunner(), await model.tokenizer(), a, b, { ...options, signal });
    });
  }

  /** One token's hidden states in two prompts compared per layer, with the plane (at its layer) when given. */
  compareStates(request: CompareStatesParams): Promise<StateComparison> {
    return this.operate('analysing', async (model) => {
      const { plane, ...rest } = request;
      if (!plane) return compareHiddenStates(await model.anyRunner(), await model.tokenizer(), rest);
      const c = model.folder.config;
      if (!Number.isInteger(plane.layer) || plane.layer < 0 || plane.layer >= c.numHiddenLayers) {
        throw new InputError(`the plane steers layer ${plane.layer}, but the model has layers 0 to ${c.numHiddenLayers - 1}`);
      }
      checkModelIdentity(plane.model, model.folder, 'the plane');
      const n = decodeFloat32Values(plane.n, 'the plane', 'n');
      if (n.length !== c.hiddenSize) throw new InputError(`the plane direction has ${n.length} values, expected the model's hidden size ${c.hiddenSize}`);
      const compared = { layer: plane.layer, n, b: plane.b, alpha: plane.alpha, positions: plane.positions };
      return compareHiddenStates(await model.runner(plane.layer), await model.tokenizer(), { ...rest, plane: compared });
    });
  }

  /** Releases the model's sessions. */
  async close(): Promise<void> {
    await this.opening;
    const model = this.model;
    this.model = null;
    await model?.release();
  }

  private async load(dir: string, device: Device, weights: WeightsSetting): Promise<void> {
    const [folder, summary] = await Promise.all([openModelFolder(dir), inspectModelFolder(dir)]);
    const current = this.model;
    const same = current && current.device === device && current.weights === weights && current.folder.fingerprint === folder.fingerprint && current.folder.dir === folder.dir;
    if (same) return;
    this.model = new OpenModel(folder, summary, device, weights, this.options);
    await current?.release();
  }

  private async operate<T>(operation: Operation, run: (model: OpenModel) => Promise<T>): Promise<T> {
    this.refuseWhileBusy(OPERATION_VERBS[operation]);
    this.busy = operation;
    try {
      await this.opening;
      if (!this.model) throw new InputError('no model is open: open a model folder first');
      return await run(this.model);
    } finally {
      this.busy = null;
    }
  }

  private refuseWhileBusy(what: string): void {
    if (this.busy) throw new InputError(`the engine is busy ${this.busy}; cancel it first (cannot ${what} meanwhile)`);
  }
}

const OPERATION_VERBS: Record<Operation, string> = { training: 'train', generating: 'generate', analysing: 'analyse hidden states' };

/**
 * A turn of the event loop: I/O is polled and immediates run. onnxruntime's runs keep the JS thread
 * busy, so without it the engine process would send a step's notifications and read $/cancelRequest
 * only while the next step already runs.
 */
const yieldToEventLoop = () => new Promise<void>((resolve) => setImmediate(() => setImmediate(resolve)));

/** The runner as training uses it: each step first yields to the event loop, and stops there if cancelled meanwhile. */
function trainingRunner(runner: Gemma2Runner, signal: AbortSignal | undefined): TrainingRunner {
  return {
    folder: runner.folder,
    hookLayer: runner.hookLayer,
    hookScale: () => runner.hookScale(),
    hookActivations: (rows) => runner.hookActivations(rows),
    trainStep: async (rows, plane, alpha) => {
      await yieldToEventLoop();
      if (signal?.aborted) throw new CancelledError('training');
      return runner.trainStep(rows, plane, alpha);
    },
  };
}

/** The runner as generation uses it: each decode step first yields to the event loop (the generator stops at its next check). */
function generationRunner(runner: Gemma2Runner): GenerationRunner {
  return {
    folder: runner.folder,
    hookLayer: runner.hookLayer,
    prefill: (rows, steer, options) => runner.prefill(rows, steer, options),
    decode: async (cache, ids, steer) => {
      await yieldToEventLoop();
      return runner.decode(cache, ids, steer);
    },
  };
}

/** The open model: its folder, summary, tokenizer and runners. */
class OpenModel {
  private tokenizerLoad: Promise<Tokenizer> | undefined;
  /** Open runners by hook layer, least recently used first. */
  private readonly runners = new Map<number, Promise<Gemma2Runner>>();
  lastRunner: Gemma2Runner | undefined;

  constructor(
    readonly folder: ModelFolder,
    readonly summary: ModelSummary,
    readonly device: Device,
    readonly weights: WeightsSetting,
    private readonly options: EngineOptions,
  ) {}

  tokenizer(): Promise<Tokenizer> {
    if (!this.tokenizerLoad) {
      const load = loadTokenizer(this.folder.dir);
      // A failed load is not kept: the next operation tries again (the user may have fixed the folder).
      load.catch(() => {
        if (this.tokenizerLoad === load) this.tokenizerLoad = undefined;
      });
      this.tokenizerLoad = load;
    }
    return this.tokenizerLoad;
  }

  async runner(layer: number): Promise<Gemma2Runner> {
    let open = this.runners.get(layer);
    this.runners.delete(layer);
    if (!open) {
      open = Gemma2Runner.open(this.folder, {
        device: this.device,
        weights: this.weights,
        hookLayer: layer,
        cacheDir: this.options.cacheDir,
        onWeightsFile: weightsFileLog,
      });
      open.catch(() => this.runners.delete(layer));
    }
    this.runners.set(layer, open);
    const runner = await open;
    this.lastRunner = runner;
    await this.evict(Math.max(1, this.options.maxRunners ?? 1));
    return runner;
  }

  /** A runner for work that needs no hook at a given layer: the last one used, or one at the default layer. */
  async anyRunner(): Promise<Gemma2Runner> {
    return this.lastRunner ?? this.runner(defaultHookLayer(this.folder.config));
  }

  async release(): Promise<void> {
    this.lastRunner = undefined;
    await this.evict(0);
  }

  /** Releases the least recently used runners beyond `keep`. */
  private async evict(keep: number): Promise<void> {
    const excess = [...this.runners.entries()].slice(0, Math.max(0, this.runners.size - keep));
    for (const [layer] of excess) this.runners.delete(layer);
    const runners = await Promise.allSettled(excess.map(([, r]) => r));
    for (const r of runners) if (r.status === 'fulfilled') await r.value.release();
  }
}

/**
 * The one hook layer of the rows' planes (undefined when no row has a plane), after checking that each
 * plane fits the open model: its layer exists and, where the plane says which model it came from, that
 * model is this one. The generator checks the planes' vectors.
 */
function planeLayer(request: GenerateRequest, folder: ModelFolder): number | undefined {
  const c = folder.config;
  const layers = new Set<number>();
  request.rows.forEach((row, i) => {
    const plane = row?.plane;
    if (plane === undefined) return;
    const what = `row ${i}'s plane`;
    if (!Number.isInteger(plane.layer) || plane.layer < 0 || plane.layer >= c.numHiddenLayers) {
      throw new InputError(`${what} steers layer ${plane.layer}, but the model has layers 0 to ${c.numHiddenLayers - 1}`);
    }
    const from = plane.model;
    if (from && (from.fingerprint !== folder.fingerprint || from.hiddenSize !== c.hiddenSize || from.numHiddenLayers !== c.numHiddenLayers)) {
      throw new InputError(
        `${what} was trained on another model (hidden size ${from.hiddenSize}, ${from.numHiddenLayers} layers, fingerprint ${String(from.fingerprint).slice(0, 12)}) ` +
          `than the open one (${folder.dir}: hidden size ${c.hiddenSize}, ${c.numHiddenLayers} layers, fingerprint ${folder.fingerprint.slice(0, 12)})`,
      );
    }
    layers.add(plane.layer);
  });
  if (layers.size > 1) {
    throw new InputError(`the rows' planes steer different layers (${[...layers].join(', ')}); one batched run steers one layer`);
  }
  return layers.values().next().value;
}

/** Logs the one-time conversion of a model's weights into the format's file (minutes for billions of weights) every tenth of the way. */
function weightsFileLog(what: string): (done: number, total: number) => void {
  let shown = -1;
  return (done, total) => {
    const tenth = Math.floor((10 * done) / total);
    if (tenth === shown) return;
    shown = tenth;
    console.error(`writing ${what} (once; kept next to the model): ${tenth * 10}%`);
  };
}
