/**
 * The compiled Gemma-2 graphs of one model folder and their onnxruntime sessions, behind methods on
 * plain arrays: prefill and decode (with a KV cache) for generation, the hook-site activations that
 * training caches, the residual stream after every layer, the per-row NLL of `forward --json`, and one
 * training step's loss and plane gradient. All of them run the one forward graph; a training step's
 * reverse sweep runs in the backward graph, opened on the first step and released after the run.
 * Graphs are compiled through the compile cache and sessions opened once, on first use; planes, alphas,
 * steered positions and residual-stream edits (added vectors, ablated directions) are run inputs, so
 * changing them reuses the same sessions.
 */
import type * as ort from 'onnxruntime-node';
import { InputError } from '../errors';
import { defaultHookLayer } from '../model/config';
import { openModelFolder } from '../model/modelFolder';
import { readTensor } from '../model/tensorData';
import type { ModelFolder } from '../model/types';
import { compileGraph } from '../onnx/compileCache';
import type { ComputeDType, GraphBuilder } from '../onnx/graph';
import { savedOutputName, type SplitGraph } from '../onnx/splitBackward';
import { bool, createSession, i64, missingCudaProvider, runSession, type Device, type HostTensor } from '../runtime/session';
import { checkAlpha, checkContext, checkIds, checkOffset, checkScoredLogits, finite, padRowsLeft, sharesPrompt, steerFeeds, steeredPositions, type PaddedRows, type SteerRow } from './batchRows';
import { buildForwardGraph, checkHookLayer, hiddenStateName, pastKeyName, pastValueName, presentKeyName, presentValueName } from './forwardGraph';
import { pieceWidth, runInPieces, type ForwardPasses } from './positionPieces';
import { editsAlike, residualEditFeeds, type ResidualEditFeeds, type ResidualEdits } from './residualEdits';
import type { ModelWeights } from './layers';
import type { QuantBits } from '../weights/blockQuantize';
import type { WeightsFileProgress } from '../weights/derivedFile';
import { floatWeightsFile, needsFloatFile } from '../weights/floatFile';
import { floatWeights, modelWeights, quantizedWeights, storedWeights } from '../weights/graphWeights';
import { quantizedFileLayout, quantizedWeightsFile } from '../weights/quantizedFile';
import { chooseWeights, packsWeights, quantBits, type WeightsChoice, type WeightsSetting } from '../weights/weightsFormat';

export type FloatArray = Float32Array | Float64Array;

export interface RunnerOptions {
  /** auto (default): CUDA when it loads, else CPU, saying why. */
  device?: Device;
  /** float32 (default); float64 for tight numerical checks. */
  computeDtype?: ComputeDType;
  /** The steering layer (default floor(layers / 2)). */
  hookLayer?: number;
  /** Where compiled graphs go when the model folder is read-only. */
  cacheDir?: string;
  intraOpNumThreads?: number;
  /** The weights format (default f32, exact); `auto` picks by device and memory (weights/weightsFormat.ts). */
  weights?: WeightsSetting;
  /**
   * Progress of the one-time conversion of the weights into the format's file (values done, total), by
   * what is being made ("float32 copies of the weights", ...).
   */
  onWeightsFile?: (what: string) => WeightsFileProgress;
}

/**
 * The cached keys and values of a batch after a prefill or decode step. Opaque to callers, and used
 * once: the next decode writes its tokens into the same slots (each run reads the cache in place and
 * hands back only its own keys and values, so no step copies the whole cache).
 */
export interface KvCache {
  readonly batch: number;
  /** Filled slots per row, padding included. */
  readonly length: number;
  /** Slots per row; those past `length` are free (masked out). */
  readonly capacity: number;
  /** Per layer, [batch, kvHeads, capacity, headDim]. */
  readonly keys: readonly FloatArray[];
  readonly values: readonly FloatArray[];
  /** [batch * capacity], 1 = token. */
  readonly mask: BigInt64Array;
  /** The position id of each row's next token. */
  readonly nextPosition: readonly number[];
  /** The rows' residual-stream edits, given at the prefill: they hold for every later position too. */
  readonly edits: ResidualEditFeeds;
}

export interface PrefillOptions {
  /** Fetch the hook-site values of every row. */
  hookSites?: boolean;
  /** Per row: vectors added and directions ablated after layers, at the prompt and every decoded position. */
  edits?: readonly (ResidualEdits | null | undefined)[];
  /** Cache slots to keep free for the tokens decoding will add (default none: the cache doubles when full). */
  reserve?: number;
}

/** The hook-site values of one row's tokens, [tokens * hidden] each (padding removed). */
export interface HookSites {
  /** The residual stream before the MLP add at the hook layer. */
  residual: FloatArray;
  /** The unsteered post_feedforward_layernorm output at the hook layer. */
  y: FloatArray;
}

export interface ForwardStep {
  /** Soft-capped logits of each row's last position, [batch * vocab]. */
  logits: FloatArray;
  cache: KvCache;
  /** With `hookSites: true`, per row. */
  hookSites?: HookSites[];
}

/**
 * The residual stream of one row's tokens (padding removed), [tokens * hidden] by k: after the embedding
 * (k = 0) and after layer k - 1 with its edits.
 */
export type HiddenStates = ReadonlyMap<number, FloatArray>;

export interface HiddenStateOptions {
  /** The plane at this runner's hook layer, per row. */
  steer?: readonly (SteerRow | null | undefined)[];
  /** Residual-stream edits, per row. */
  edits?: readonly (ResidualEdits | null | undefined)[];
  /** Which k to fetch (default: all, 0 to layers). */
  states?: readonly number[];
}

/** One training row: its ids and cached hook sites; position t predicts ids[t + 1]. */
export interface TrainRow {
  ids: ArrayLike<number>;
  /** From hookActivations: [ids.length * hidden] each. */
  residual: ArrayLike<number>;
  y: ArrayLike<number>;
  /** Positions whose prediction counts in the loss (default: every position but the last). */
  labels?: ArrayLike<boolean | number>;
  /** Positions the plane steers (default: all). */
  steered?: ArrayLike<boolean | number>;
}

export interface TrainStep {
  /** Mean NLL over the labelled positions, steered. */
  loss: number;
  gradN: FloatArray;
  gradB: number;
}

export interface PlaneValues {
  n: ArrayLike<number>;
  b: number;
}

type GraphRole = 'forward' | 'backward';

/** The forward and backward graphs of this runner's hook layer, and what the backward one needs first. */
interface BuiltGraphs {
  graphs: SplitGraph;
  /** The folder they are compiled into (their weights' folder). */
  dir: string;
  /** Makes the files only the backward graph reads (W^T's quantization), once. */
  prepareBackward: () => Promise<void>;
}

export class Gemma2Runner {
  /** Where the sessions run, and why not on CUDA when that was tried and failed. */
  device: 'cuda' | 'cpu' | undefined;
  fallbackReason: string | undefined;
  private readonly sessions = new Map<GraphRole, Promise<ort.InferenceSession>>();
  private built: Promise<BuiltGraphs> | undefined;

  private constructor(
    readonly folder: ModelFolder,
    readonly hookLayer: number,
    readonly computeDtype: ComputeDType,
    /** The weights format in use, and why. */
    readonly weights: WeightsChoice,
    private readonly options: RunnerOptions,
  ) {}

  /** Opens the model folder and the forward session. */
  static async open(model: string | ModelFolder, options: RunnerOptions = {}): Promise<Gemma2Runner> {
    const folder = typeof model === 'string' ? await openModelFolder(model) : model;
    const hookLayer = options.hookLayer ?? defaultHookLayer(folder.config);
    checkHookLayer(folder, hookLayer);
    const device = options.device ?? 'auto';
    const weights = chooseWeights(options.weights ?? 'f32', folder, device, device === 'cpu' ? null : missingCudaProvider());
    const computeDtype = options.computeDtype ?? 'float32';
    if (weights.format !== 'f32' && computeDtype !== 'float32') throw new InputError(`${weights.format} weights compute in float32, not ${computeDtype}`);
    const runner = new Gemma2Runner(folder, hookLayer, computeDtype, weights, options);
    await runner.session('forward');
    return runner;
  }

  /** The session of a graph, compiled and opened on first use. */
  session(role: GraphRole): Promise<ort.InferenceSession> {
    let s = this.sessions.get(role);
    if (!s) {
      s = this.openSession(role);
      this.sessions.set(role, s);
      s.catch(() => this.sessions.delete(role));
    }
    return s;
  }

  private async openSession(role: GraphRole): Promise<ort.InferenceSession> {
    const built = await this.graphs();
    if (role === 'backward') await built.prepareBackward();
    const suffix = this.computeDtype === 'float64' ? '-f64' : this.weights.format === 'f32' ? '' : `-${this.weights.format}`;
    const compiled = compileGraph(built.graphs[role], { modelDir: built.dir, name: `${role}-l${this.hookLayer}${suffix}`, cacheDir: this.options.cacheDir });
    const device = this.weights.format === 'stored' ? 'cuda' : this.options.device;
    // onnxruntime 1.30's MatmulTransposeFusion miscomputes the backward graph, whose transposed operands
    // are graph inputs (the saved values): its gradients came out several times too large.
    const disabledOptimizer = role === 'backward' ? 'MatmulTransposeFusion' : undefined;
    // No arena: the forward session runs training steps too, whose activations span the vocabulary at
    // every position, and an arena would keep that memory after training (measured: decode no slower).
    const opened = await createSession(compiled.source, {
      device,
      intraOpNumThreads: this.options.intraOpNumThreads,
      disabledOptimizer,
      memoryArena: false,
      prepacking: packsWeights(this.weights.format, this.folder),
    });
    if (this.weights.format === 'stored' && opened.device !== 'cuda') {
      await opened.session.release();
      throw new InputError(`weights "stored" need CUDA, which failed here (${opened.fallbackReason}): use f32, int8 or int4`);
    }
    this.device = opened.device;
    this.fallbackReason ??= opened.fallbackReason;
    return opened.session;
  }

  /** The graphs, built once: the forward graph's build includes the reverse sweep it is split from. */
  private graphs(): Promise<BuiltGraphs> {
    if (!this.built) {
      this.built = this.buildGraphs();
      this.built.catch(() => (this.built = undefined));
    }
    return this.built;
  }

  /**
   * Where the graphs' weights come from, and the folder they are compiled into: the model folder, or
   * the folder of the quantized weights file, beside which the backward graph's W^T quantization goes.
   */
  private async buildGraphs(): Promise<BuiltGraphs> {
    const format = this.weights.format;
    const build = (dir: string, weights: (g: GraphBuilder) => ModelWeights, prepareBackward = async () => {}): BuiltGraphs => ({
      graphs: buildForwardGraph(this.folder, { hookLayer: this.hookLayer, computeDtype: this.computeDtype, weights }),
      dir,
      prepareBackward,
    });
    const fileOptions = (what: string) => ({ cacheDir: this.options.cacheDir, onProgress: this.options.onWeightsFile?.(what) });
    if (format === 'f32' && (this.computeDtype === 'float64' || !needsFloatFile(this.folder))) return build(this.folder.dir, (g) => modelWeights(g, this.folder));
    if (format === 'f32') {
      const file = await floatWeightsFile(this.folder, fileOptions('float32 copies of the weights'));
      return build(file.dir, (g) => floatWeights(g, file));
    }
    if (format === 'stored') return build(this.folder.dir, (g) => storedWeights(g, this.folder));
    const bits = quantBits(format) as QuantBits;
    const file = await quantizedWeightsFile(this.folder, bits, 'weights', fileOptions(`int${bits} quantizations of the weights`));
    // Graphs read both files from their own folder: the transposed part goes where the other one is.
    const transposed = quantizedFileLayout(this.folder, bits, 'transposed', file.dir);
    let made: Promise<unknown> | undefined;
    const prepare = async () => {
      made ??= quantizedWeightsFile(this.folder, bits, 'transposed', { ...fileOptions(`int${bits} quantizations of the transposed weights (for training)`), dir: file.dir });
      made.catch(() => (made = undefined));
      await made;
    };
    return build(file.dir, (g) => quantizedWeights(g, file, transposed), prepare);
  }

  /** Releases every session. */
  async release(): Promise<void> {
    await this.releaseRoles([...this.sessions.keys()]);
  }

  /**
   * Releases the backward graph's session, which holds W in the other orientation for the layers above
   * the hook: after a training run the process keeps only what generation needs.
   */
  releaseTraining(): Promise<void> {
    return this.releaseRoles(['backward']);
  }

  private async releaseRoles(roles: readonly GraphRole[]): Promise<void> {
    const open = roles.flatMap((role) => {
      const s = this.sessions.get(role);
      this.sessions.delete(role);
      return s ? [s] : [];
    });
    for (const s of await Promise.allSettled(open)) if (s.status === 'fulfilled') await s.value.release();
  }

  /** r = (1 + w) * sqrt(hidden) of the hook layer's post_feedforward_layernorm: u = y / r is the latent. */
  async hookScale(): Promise<Float64Array> {
    const name = `model.layers.${this.hookLayer}.post_feedforward_layernorm.weight`;
    const loc = this.folder.tensors.get(name);
    if (!loc) throw new InputError(`${this.folder.dir}: the model has no tensor ${name}`);
    const w = await readTensor(loc);
    return Float64Array.from(w, (x) => (1 + x) * Math.sqrt(w.length));
  }

  /**
   * Runs rows of prompt ids (left-padded into one batch) from an empty cache. Rows that are one prompt
   * with the same edits, steered at most at its last position (a comparison of alphas), run the rest of
   * the prompt once (prefillShared).
   */
  async prefill(rows: readonly ArrayLike<number>[], steer?: readonly (SteerRow | null | undefined)[], options: PrefillOptions = {}): Promise<ForwardStep> {
    const empty = this.emptyCache(rows.length, options.edits);
    if (!options.hookSites && sharesPrompt(rows, steer) && editsAlike(empty.edits, rows.length)) return this.prefillShared(rows[0], rows.length, steer, options);
    const padded = padRowsLeft(rows, this.folder.config);
    const fetches = ['last_logits', ...this.presentNames(), ...(options.hookSites ? ['hook_residual', 'hook_y'] : [])];
    const out = await this.runForward(padded, empty, steer, fetches);
    const step: ForwardStep = { logits: out.last_logits.data as FloatArray, cache: this.cacheAfter(padded, empty, out, options.reserve ?? 0) };
    if (options.hookSites) step.hookSites = this.unpadHookSites(padded, out);
    return step;
  }

  /**
   * One prompt for `batch` rows that differ at most in steering its last token: the tokens before it
   * run for one row, whose cache every row gets a copy of, and the last token runs for every row as a
   * decode step. The batched prefill's numbers (to float32 rounding), for the prefill's cost of one row.
   */
  private async prefillShared(ids: ArrayLike<number>, batch: number, steer: readonly (SteerRow | null | undefined)[] | undefined, options: PrefillOptions): Promise<ForwardStep> {
    const prompt = Array.from(ids);
    checkContext(prompt.length, this.folder.config);
    const prefix = await this.prefill([prompt.slice(0, -1)], undefined, { edits: options.edits?.slice(0, 1), reserve: (options.reserve ?? 0) + 1 });
    return this.decode(this.repeatRow(prefix.cache, batch), new Array<number>(batch).fill(prompt[prompt.length - 1]), steer);
  }

  /** Appends one token per row to a cache and runs it, with the edits the cache's prefill was given. */
  async decode(cache: KvCache, ids: readonly number[], steer?: readonly (SteerRow | null | undefined)[]): Promise<ForwardStep> {
    if (ids.length !== cache.batch) throw new InputError(`decode: ${ids.length} token ids for a batch of ${cache.batch} rows`);
    checkIds(ids, this.folder.config, 'decode');
    const step: PaddedRows = {
      batch: cache.batch,
      seq: 1,
      ids: BigInt64Array.from(ids, BigInt),
      mask: new BigInt64Array(cache.batch).fill(1n),
      positions: BigInt64Array.from(cache.nextPosition, BigInt),
      offsets: new Array<number>(cache.batch).fill(0),
    };
    const out = await this.runForward(step, cache, steer, ['last_logits', ...this.presentNames()]);
    return { logits: out.last_logits.data as FloatArray, cache: this.cacheAfter(step, cache, out, cache.capacity) };
  }

  /**
   * The residual stream of every token of each row after the embedding and after every layer (or the
   * states asked for), with the plane (at this runner's hook layer) and the edits given. Rows longer
   * than LIMITS.runPositions allows run in pieces through the KV cache, with the same results.
   */
  async hiddenStates(rows: readonly ArrayLike<number>[], options: HiddenStateOptions = {}): Promise<HiddenStates[]> {
    const c = this.folder.config;
    const layers = c.numHiddenLayers;
    const states = options.states ?? Array.from({ length: layers + 1 }, (_, k) => k);
    for (const k of states) {
      if (!Number.isInteger(k) || k < 0 || k > layers) throw new InputError(`hidden state ${k} does not exist: 0 is the embedding, 1 to ${layers} the layers' outputs`);
    }
    const padded = padRowsLeft(rows, c);
    const width = pieceWidth(padded.batch, c, false, 'the hidden states run');
    const whole: FloatArray[] = [];
    const run = { padded, cache: this.emptyCache(padded.batch, options.edits), steer: options.steer, width, fetches: states.map(hiddenStateName) };
    await runInPieces(this.forwardPasses(), run, c, ({ start, rows: piece, out }) => {
      states.forEach((k, j) => {
        const part = out[hiddenStateName(k)].data as FloatArray;
        // One piece is the whole run: its output is the result as it is.
        if (piece.seq === padded.seq) {
          whole[j] = part;
          return;
        }
        whole[j] ??= this.floatArray(padded.batch * padded.seq * c.hiddenSize);
        const span = piece.seq * c.hiddenSize;
        for (let i = 0; i < padded.batch; i++) whole[j].set(part.subarray(i * span, (i + 1) * span), (i * padded.seq + start) * c.hiddenSize);
      });
    });
    return padded.offsets.map((_, i) => new Map(states.map((k, j) => [k, this.unpadRow(padded, whole[j], i)])));
  }

  /** The unsteered hook-site values of every token of each row: what training caches. */
  async hookActivations(rows: readonly ArrayLike<number>[]): Promise<HookSites[]> {
    const padded = padRowsLeft(rows, this.folder.config);
    const out = await this.runForward(padded, this.emptyCache(padded.batch), undefined, ['hook_residual', 'hook_y']);
    return this.unpadHookSites(padded, out);
  }

  /**
   * Per row: the soft-capped logits of its last position and the mean NLL of ids[1:] given their
   * prefixes, with the plane (at this runner's hook layer) and residual-stream edits given. Rows whose
   * logits exceed LIMITS.logits (or positions LIMITS.runPositions) run in pieces through the KV cache.
   */
  async forwardNll(
    rows: readonly ArrayLike<number>[],
    steer?: readonly (SteerRow | null | undefined)[],
    edits?: readonly (ResidualEdits | null | undefined)[],
  ): Promise<{ lastLogits: FloatArray; nll: number }[]> {
    rows.forEach((row, i) => {
      if (row.length < 2) throw new InputError(`row ${i}: the NLL needs at least 2 token ids, got ${row.length}`);
    });
    const c = this.folder.config;
    const padded = padRowsLeft(rows, c);
    const width = pieceWidth(padded.batch, c, true, 'the NLL run');
    const sums = new Float64Array(padded.batch);
    let lastLogits = this.floatArray(0);
    const run = { padded, cache: this.emptyCache(padded.batch, edits), steer, width, fetches: ['last_logits', 'token_nll'], scored: true };
    await runInPieces(this.forwardPasses(), run, c, ({ start, rows: piece, out }) => {
      const nll = out.token_nll.data as FloatArray;
      for (let i = 0; i < padded.batch; i++) {
        for (let t = Math.max(start, padded.offsets[i]); t < start + piece.seq && t + 1 < padded.seq; t++) sums[i] += nll[i * piece.seq + t - start];
      }
      lastLogits = out.last_logits.data as FloatArray;
    });
    const vocab = c.vocabSize;
    return rows.map((row, i) => ({ lastLogits: lastLogits.slice(i * vocab, (i + 1) * vocab), nll: sums[i] / (row.length - 1) }));
  }

  /** The runner's forward run and cache update, for a run in pieces (positionPieces.ts). */
  private forwardPasses(): ForwardPasses {
    return {
      run: (rows, cache, steer, fetches, targets) => this.runForward(rows, cache, steer, fetches, targets),
      extend: (rows, cache, out, reserve) => this.cacheAfter(rows, cache, out, reserve),
      presentNames: this.presentNames(),
    };
  }

  /**
   * The steered mean NLL of a batch of training rows and its gradient with respect to n (as given) and b:
   * the forward graph runs the rows from the hook layer up, returning what the reverse sweep needs,
   * and the backward graph runs the sweep.
   */
  async trainStep(rows: readonly TrainRow[], plane: PlaneValues, alpha: number): Promise<TrainStep> {
    const feeds = this.trainFeeds(rows, plane, alpha);
    const backward = await this.session('backward');
    const { saved } = (await this.graphs()).graphs;
    const out = await runSession(await this.session('forward'), feeds, ['loss', ...saved.map(savedOutputName)]);
    const backFeeds: Record<string, HostTensor> = {};
    for (const name of backward.inputNames) backFeeds[name] = out[savedOutputName(name)] ?? feeds[name];
    const grads = await runSession(backward, backFeeds, ['grad_n', 'grad_b']);
    return { loss: Number(out.loss.data[0]), gradN: grads.grad_n.data as FloatArray, gradB: Number(grads.grad_b.data[0]) };
  }

  /** The same loss as trainStep without the reverse sweep (the benchmark's baseline for a step's cost). */
  async trainLoss(rows: readonly TrainRow[], plane: PlaneValues, alpha: number): Promise<number> {
    const out = await runSession(await this.session('forward'), this.trainFeeds(rows, plane, alpha), ['loss']);
    return Number(out.loss.data[0]);
  }

  private trainFeeds(rows: readonly TrainRow[], plane: PlaneValues, alpha: number): Record<string, HostTensor> {
    const c = this.folder.config;
    const hidden = c.hiddenSize;
    const padded = padRowsLeft(rows.map((r) => r.ids), c);
    const { batch, seq } = padded;
    checkScoredLogits(batch, seq, c, 'a training step');
    const residual = new Float64Array(batch * seq * hidden);
    const y = new Float64Array(batch * seq * hidden);
    const steered = new Uint8Array(batch * seq);
    // Only labelled positions are scored (the head over the vocabulary is most of a step's cost): per
    // row its labelled positions in the padded layout, the rows' lists padded with unlabelled entries.
    const scored: { position: number; target: number }[][] = [];
    // Alpha 0 is the unsteered model (STEERING_LIMITS): nothing steered, so the gradient is zero.
    const unsteered = checkAlpha(alpha, 'alpha') === 0;
    rows.forEach((row, i) => {
      const len = row.ids.length;
      const what = `training row ${i}`;
      if (row.residual.length !== len * hidden || row.y.length !== len * hidden) {
        throw new InputError(`${what}: hook sites of ${row.residual.length} and ${row.y.length} values, expected ${len} positions x ${hidden}`);
      }
      const at = i * seq + padded.offsets[i];
      residual.set(row.residual, at * hidden);
      y.set(row.y, at * hidden);
      const labelled = row.labels ? steeredPositions(row.labels, len, `${what} labels`) : Array.from({ length: len }, (_, t) => t < len - 1);
      steeredPositions(row.steered, len, `${what} steered positions`).forEach((f, t) => (steered[at + t] = f && !unsteered ? 1 : 0));
      const own: { position: number; target: number }[] = [];
      labelled.forEach((f, t) => {
        if (!f) return;
        if (t + 1 >= len) throw new InputError(`${what}: position ${t} is labelled but has no next token`);
        own.push({ position: padded.offsets[i] + t, target: row.ids[t + 1] });
      });
      scored.push(own);
    });
    const count = Math.max(...scored.map((own) => own.length));
    if (count === 0) throw new InputError('a training step needs at least one labelled position');
    const positions = new BigInt64Array(batch * count);
    const targets = new BigInt64Array(batch * count);
    const labels = new Float64Array(batch * count);
    scored.forEach((own, i) =>
      own.forEach(({ position, target }, k) => {
        positions[i * count + k] = BigInt(position);
        targets[i * count + k] = BigInt(target);
        labels[i * count + k] = 1;
      }),
    );
    if (plane.n.length !== hidden) throw new InputError(`the plane has ${plane.n.length} entries, expected the model's hidden size ${hidden}`);

    const float = (data: ArrayLike<number>, dims: number[]) => this.floats(data, dims);
    const n = Array.from(plane.n, (v, k) => finite(v, `the plane's n[${k}]`));
    const b = checkOffset(plane.b, "the plane's b");
    // Training rows only: no generation rows, no cache, no edits; every row has the one plane.
    const feeds: Record<string, HostTensor> = {
      input_ids: i64([], [0, seq]),
      train_residual: float(residual, [batch, seq, hidden]),
      train_y: float(y, [batch, seq, hidden]),
      attention_mask: i64(padded.mask, [batch, seq]),
      position_ids: i64(padded.positions, [batch, seq]),
      past_length: i64([0], [1]),
      plane_n: float(Array.from({ length: batch }, () => n).flat(), [batch, hidden]),
      plane_b: float(new Array<number>(batch).fill(b), [batch]),
      alpha: float(new Array<number>(batch).fill(alpha), [batch]),
      steer_mask: bool(steered, [batch, seq]),
      resid_add: float(new Float64Array(batch * c.numHiddenLayers * hidden), [batch, c.numHiddenLayers, hidden]),
      ablate_dir: float(new Float64Array(batch * c.numHiddenLayers * hidden), [batch, c.numHiddenLayers, hidden]),
      scored_positions: i64(positions, [batch, count]),
      target_ids: i64(targets, [batch, count]),
      label_mask: float(labels, [batch, count]),
    };
    for (let i = 0; i < c.numHiddenLayers; i++) {
      const empty = this.hostFloats(this.floatArray(0), [i <= this.hookLayer ? 0 : batch, c.numKeyValueHeads, 0, c.headDim]);
      feeds[pastKeyName(i)] = empty;
      feeds[pastValueName(i)] = empty;
    }
    return feeds;
  }

  // ---------------------------------------------------------------- plumbing

  private floatArray(length: number): FloatArray {
    return this.computeDtype === 'float64' ? new Float64Array(length) : new Float32Array(length);
  }

  /** A tensor over `data` itself (no copy): the cache's slots go into a run as they are. */
  private hostFloats(data: FloatArray, dims: readonly number[]): HostTensor {
    return data instanceof Float64Array ? { dtype: 'float64', data, dims } : { dtype: 'float32', data, dims };
  }

  private floats(data: ArrayLike<number>, dims: readonly number[]): HostTensor {
    return this.computeDtype === 'float64'
      ? { dtype: 'float64', data: Float64Array.from(data), dims }
      : { dtype: 'float32', data: Float32Array.from(data), dims };
  }

  private emptyCache(batch: number, edits?: readonly (ResidualEdits | null | undefined)[]): KvCache {
    const c = this.folder.config;
    const none = () => this.floatArray(0);
    return {
      batch,
      length: 0,
      capacity: 0,
      keys: Array.from({ length: c.numHiddenLayers }, none),
      values: Array.from({ length: c.numHiddenLayers }, none),
      mask: new BigInt64Array(0),
      nextPosition: new Array<number>(batch).fill(0),
      edits: residualEditFeeds(edits, batch, c.numHiddenLayers, c.hiddenSize),
    };
  }

  /** A one-row cache as the cache of `batch` copies of its row. */
  private repeatRow(cache: KvCache, batch: number): KvCache {
    if (cache.batch !== 1) throw new Error(`repeatRow: a cache of ${cache.batch} rows`);
    return {
      batch,
      length: cache.length,
      capacity: cache.capacity,
      keys: cache.keys.map((k) => repeated(k, batch)),
      values: cache.values.map((v) => repeated(v, batch)),
      mask: repeated(cache.mask, batch),
      nextPosition: new Array<number>(batch).fill(cache.nextPosition[0]),
      edits: { add: repeated(cache.edits.add, batch), ablate: repeated(cache.edits.ablate, batch) },
    };
  }

  private async runForward(
    rows: PaddedRows,
    cache: KvCache,
    steer: readonly (SteerRow | null | undefined)[] | undefined,
    fetches: string[],
    targets?: BigInt64Array,
  ): Promise<Record<string, HostTensor>> {
    const c = this.folder.config;
    const { batch, seq } = rows;
    const slots = cache.capacity;
    const total = slots + seq;
    const mask = new BigInt64Array(batch * total);
    for (let i = 0; i < batch; i++) {
      mask.set(cache.mask.subarray(i * slots, (i + 1) * slots), i * total);
      mask.set(rows.mask.subarray(i * seq, (i + 1) * seq), i * total + slots);
    }
    const lengths = rows.offsets.map((o) => seq - o);
    const plane = steerFeeds(steer, lengths, seq, c.hiddenSize);
    const feeds: Record<string, HostTensor> = {
      input_ids: i64(rows.ids, [batch, seq]),
      // No training rows: their nodes, and the saved values of a training step, cost nothing.
      train_residual: this.hostFloats(this.floatArray(0), [0, seq, c.hiddenSize]),
      train_y: this.hostFloats(this.floatArray(0), [0, seq, c.hiddenSize]),
      attention_mask: { dtype: 'int64', data: mask, dims: [batch, total] },
      past_length: i64([cache.length], [1]),
      position_ids: i64(rows.positions, [batch, seq]),
      plane_n: this.floats(plane.n, [batch, c.hiddenSize]),
      plane_b: this.floats(plane.b, [batch]),
      alpha: this.floats(plane.alpha, [batch]),
      steer_mask: bool(plane.steered, [batch, seq]),
      resid_add: this.floats(cache.edits.add, [batch, c.numHiddenLayers, c.hiddenSize]),
      ablate_dir: this.floats(cache.edits.ablate, [batch, c.numHiddenLayers, c.hiddenSize]),
    };
    const cacheDims = [batch, c.numKeyValueHeads, slots, c.headDim];
    for (let i = 0; i < c.numHiddenLayers; i++) {
      feeds[pastKeyName(i)] = this.hostFloats(cache.keys[i], cacheDims);
      feeds[pastValueName(i)] = this.hostFloats(cache.values[i], cacheDims);
    }
    // With targets, every position is scored.
    const scored = targets ? seq : 0;
    feeds.scored_positions = i64(Array.from({ length: batch * scored }, (_, k) => k % seq), [batch, scored]);
    feeds.target_ids = targets ? i64(targets, [batch, seq]) : i64([], [batch, 0]);
    feeds.label_mask = this.floats(new Float64Array(batch * scored), [batch, scored]);
    return checkFiniteOutputs(await runSession(await this.session('forward'), feeds, fetches), fetches);
  }

  private presentNames(): string[] {
    return Array.from({ length: this.folder.config.numHiddenLayers }, (_, i) => [presentKeyName(i), presentValueName(i)]).flat();
  }

  /**
   * The cache after a run: this run's keys and values written into free slots of `before`'s buffers
   * (new buffers of `capacity` slots, or twice the old, when they do not fit; `before` is used up).
   */
  private cacheAfter(rows: PaddedRows, before: KvCache, out: Record<string, HostTensor>, reserve: number): KvCache {
    const { batch, seq } = rows;
    const c = this.folder.config;
    const length = before.length + seq;
    const capacity = length <= before.capacity ? before.capacity : Math.max(length + reserve, 2 * before.capacity);
    const heads = batch * c.numKeyValueHeads;
    const d = c.headDim;
    const place = (old: FloatArray, fresh: FloatArray): FloatArray => {
      let slotsOf = old;
      if (capacity !== before.capacity) {
        slotsOf = this.floatArray(heads * capacity * d);
        for (let h = 0; h < heads; h++) slotsOf.set(old.subarray(h * before.capacity * d, (h * before.capacity + before.length) * d), h * capacity * d);
      }
      for (let h = 0; h < heads; h++) slotsOf.set(fresh.subarray(h * seq * d, (h + 1) * seq * d), (h * capacity + before.length) * d);
      return slotsOf;
    };
    const mask = capacity === before.capacity ? before.mask : new BigInt64Array(batch * capacity);
    const nextPosition = before.nextPosition.slice();
    for (let i = 0; i < batch; i++) {
      if (mask !== before.mask) mask.set(before.mask.subarray(i * before.capacity, i * before.capacity + before.length), i * capacity);
      mask.set(rows.mask.subarray(i * seq, (i + 1) * seq), i * capacity + before.length);
      nextPosition[i] = Number(rows.positions[i * seq + seq - 1]) + 1;
    }
    return {
      batch,
      length,
      capacity,
      keys: before.keys.map((k, i) => place(k, out[presentKeyName(i)].data as FloatArray)),
      values: before.values.map((v, i) => place(v, out[presentValueName(i)].data as FloatArray)),
      mask,
      nextPosition,
      edits: before.edits,
    };
  }

  private unpadHookSites(rows: PaddedRows, out: Record<string, HostTensor>): HookSites[] {
    const residual = out.hook_residual.data as FloatArray;
    const y = out.hook_y.data as FloatArray;
    return rows.offsets.map((_, i) => ({ residual: this.unpadRow(rows, residual, i), y: this.unpadRow(rows, y, i) }));
  }

  /** Row i's tokens of a [batch, seq, hidden] output, without its left padding. */
  private unpadRow(rows: PaddedRows, data: FloatArray, i: number): FloatArray {
    const hidden = this.folder.config.hiddenSize;
    return data.slice((i * rows.seq + rows.offsets[i]) * hidden, (i + 1) * rows.seq * hidden);
  }
}

/** `times` copies of `one`, end to end, in an array of its type. */
function repeated<T extends Float32Array | Float64Array | BigInt64Array>(one: T, times: number): T {
  const out = new (one.constructor as new (length: number) => T)(one.length * times);
  // One cast for the three types: TypeScript cannot call `set` through their union.
  for (let i = 0; i < times; i++) (out as Float32Array).set(one as Float32Array, i * one.length);
  return out;
}

/**
 * A non-finite logit, NLL or hidden state is never a result: it comes from the input (weights holding
 * NaN or infinity, or steering strong enough to overflow float32), so it is an InputError that says so.
 * The KV cache is not scanned (it would make each decode step cost the whole cache): what goes wrong
 * there reaches the logits.
 */
function checkFiniteOutputs(out: Record<string, HostTensor>, fetches: readonly string[]): Record<string, HostTensor> {
  for (const name of fetches) {
    if (name.startsWith('present')) continue;
    const data = out[name].data;
    if (typeof data[0] === 'bigint') continue;
    for (let i = 0; i < data.length; i++) {
      if (!Number.isFinite(data[i] as number)) {
        throw new InputError(
          `the model's ${name} came out non-finite (${String(data[i])} at index ${i}): the model's weights hold NaN or infinite values, or the steering is too strong`,
        );
      }
    }
  }
  return out;
}
