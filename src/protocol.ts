/**
 * Messages shared by the engine process, its clients (the extension, the CLI) and the webview.
 * These types describe well-formed messages; each receiver validates what it gets (the webview and
 * the workspace settings are untrusted input).
 */
import type { ModelSummary } from './engine/model/types';
import type { Device } from './engine/runtime/session';
import type { WeightsChoice, WeightsSetting } from './engine/weights/weightsFormat';
import type { LayerDiagnostics } from './engine/methods/layerDiagnostics';
import type { StateComparison } from './engine/methods/hiddenStates';
import type { ExamplePosition } from './engine/methods/exampleStates';

export type { ModelSummary, LayerDiagnostics, StateComparison, ExamplePosition };
export type { Device } from './engine/runtime/session';
export type { WeightsChoice, WeightsFormat, WeightsSetting } from './engine/weights/weightsFormat';


/** How training computes the MLE term (DESIGN.md section 1). */
export type MleMode = 'sequence' | 'notebook';

/** Everything that decides a training run; defaults are the method's original ones. */
export interface TrainOptions {
  /** Decoder layer of the hook (default floor(layers / 2)). */
  layer?: number;
  steps?: number;
  learningRate?: number;
  /** Steering strength while training. */
  alpha?: number;
  /** true for a general style (adds the cap and theta terms), false for a specific concept. */
  useAveraging?: boolean;
  lambdaMle?: number;
  lambdaCap?: number;
  lambdaTheta?: number;
  mleMode?: MleMode;
  /** Examples per step in `sequence` mode at most (default: all that `batchTokens` holds). */
  batchSize?: number;
  /**
   * Tokens per step in `sequence` mode at most, counted as examples x the longest one's length (the
   * padded batch is what runs); at least 2. Default TRAIN_DEFAULTS.batchTokens, capped by the logits
   * budget (MICROSTEER_MAX_LOGITS over the vocabulary). An example longer than the budget is refused.
   */
  batchTokens?: number;
  seed?: number;
}

export const TRAIN_DEFAULTS = {
  steps: 500,
  learningRate: 5e-4,
  alpha: 1.0,
  useAveraging: true,
  lambdaMle: 1e4,
  lambdaCap: 0.1,
  lambdaTheta: 0.1,
  mleMode: 'sequence' as MleMode,
  batchTokens: 4096,
  seed: 0,
} as const;

/**
 * Bounds of steering values from any client: beyond them a run only overflows float32 (issue 11).
 * Alpha 0 means the unsteered model everywhere: no hook at all, not the method's formula at 0
 * (which would still remove relu(n.v + b) n).
 */
export const STEERING_LIMITS = {
  /** Largest |alpha|: the method's examples use 1.7 to 3.0, the settings allow -5 to 10. */
  maxAbsAlpha: 100,
  /** A stored plane's |n| is 1 within this (training normalises it after every step). */
  unitNormTolerance: 0.01,
  maxLearningRate: 1,
  maxLambda: 1e8,
} as const;

/** One training step's report. */
export interface TrainProgress {
  step: number;
  totalSteps: number;
  loss: number;
  mleLoss: number;
  capLoss: number;
  b: number;
  gradNorm: number;
  msPerStep: number;
}

/** Which model a plane was trained on. */
export interface ModelIdentity {
  hiddenSize: number;
  numHiddenLayers: number;
  fingerprint: string;
}

/**
 * A trained plane as stored in settings and plane files: the plane file format (`layer`, `n` as base64
 * little-endian float32, `b`) plus the record of how it was made.
 */
export interface PlaneRecord {
  layer: number;
  n: string;
  b: number;
  model: ModelIdentity;
  /** The settings as resolved: batchSize and batchTokens are those the run used (records made before batchTokens existed lack it). */
  training: Required<Omit<TrainOptions, 'batchSize' | 'batchTokens'>> & { batchSize: number; batchTokens?: number; examples: number };
  initialLoss: number;
  finalLoss: number;
  lossHistory: number[];
  createdAt: string;
}

/** The plane part of a record, enough to steer. */
export interface PlaneSpec {
  layer: number;
  /** base64 little-endian float32, or numbers. */
  n: string | number[];
  b: number;
  /** The model it was trained on, when known (a PlaneRecord has it): the engine refuses a plane from another model. */
  model?: ModelIdentity;
}

export interface SamplingOptions {
  /** 0 = greedy. */
  temperature?: number;
  /** 0 = off. */
  topK?: number;
  /** 1 = off. */
  topP?: number;
  seed?: number;
  maxNewTokens?: number;
  /** Wrap the prompt in the model's chat template. */
  chatTemplate?: boolean;
  /** `last`: steer the last prompt position and every generated one (the method's behaviour); `all`: the whole prompt too. */
  steerPrompt?: 'last' | 'all';
}

export const SAMPLING_DEFAULTS = {
  temperature: 1.0,
  topK: 0,
  topP: 1.0,
  seed: 0,
  maxNewTokens: 200,
  chatTemplate: false,
  steerPrompt: 'last' as 'last' | 'all',
} as const;

/** One row of a generation: a plane (none = unsteered) and its strength. */
export interface GenerationRow {
  plane?: PlaneSpec;
  alpha: number;
  /** A steering vector added to the residual stream (with or without a plane). */
  vector?: VectorSteering;
  /** A direction removed from the residual stream. */
  ablate?: AblationSteering;
}

/** A vector as stored: base64 of little-endian float32, or numbers. */
export type VectorValues = string | number[];

/**
 * Steering by vectors: `coefficient * values[i]` is added to the residual stream after decoder layer
 * `layers[i]`, at every position of the row (prompt and generated tokens).
 */
export interface VectorSteering {
  layers: number[];
  /** One vector per layer (in the order of `layers`), or one vector for every layer. */
  values: VectorValues[];
  coefficient: number;
  /** The model the vectors come from, when known: the engine refuses vectors from another model. */
  model?: ModelIdentity;
}

/** Directional ablation: the direction (normalised by the engine) removed from the residual stream after each of `layers`. */
export interface AblationSteering {
  direction: VectorValues;
  /** Decoder layers, or every layer. */
  layers: number[] | 'all';
  model?: ModelIdentity;
}

/** How a mean-difference vector was taken. */
export interface MeanDifferenceSettings {
  /** `last`: each example's last token; `mean`: the mean over its tokens after BOS. */
  position: 'last' | 'mean';
  chatTemplate: boolean;
  sourceExamples: number;
  targetExamples: number;
}

/**
 * Mean-difference steering vectors as stored in settings (beside the planes) and vector files:
 * `vectors[i] = mean(target) - mean(source)` of the residual stream after decoder layer `layers[i]`.
 * A record imported from a GGUF control vector has no `model` and no `settings`, but `imported`.
 */
export interface MeanDifferenceRecord {
  kind: 'meanDifference';
  /** Ascending decoder layers. */
  layers: number[];
  /** base64 little-endian float32 [hidden], one per layer. */
  vectors: string[];
  model?: ModelIdentity;
  settings?: MeanDifferenceSettings;
  imported?: { file: string; modelHint: string | null };
  createdAt: string;
}

export type StopReason = 'eos' | 'maxTokens' | 'cancelled';

export interface GenerationResult {
  rows: { text: string; tokens: number; stopReason: StopReason }[];
}

// ------------------------------------------------------------------ engine JSON-RPC

export interface OpenModelParams {
  modelPath: string;
  device?: Device;
  /** The weights format (default auto: picked by device and memory). */
  weights?: WeightsSetting;
}

export interface EngineStatus {
  model: ModelSummary | null;
  device: 'cuda' | 'cpu' | null;
  /** Why the engine runs on the CPU when CUDA was tried. */
  fallbackReason: string | null;
  /** The weights format the model runs in and why (null before it has run). */
  weights: WeightsChoice | null;
  busy: 'training' | 'generating' | 'analysing' | null;
}

export interface TrainParams {
  /** Chosen by the client; progress notifications carry it back. */
  requestId: string;
  examples: string[];
  options: TrainOptions;
}

export interface GenerateParams {
  /** Chosen by the client; token notifications carry it back. */
  requestId: string;
  prompt: string;
  /**
   * 'end': a prompt too long for the model's context keeps its end (the text just before a cursor);
   * absent: it is refused with an error that says so.
   */
  promptFit?: 'end';
  rows: GenerationRow[];
  sampling: SamplingOptions;
}

/** Two example sets read at decoder layers (default: every layer). */
interface ExampleSetsParams {
  layers?: number[];
  position?: ExamplePosition;
  chatTemplate?: boolean;
}

/** engine/meanDifference: delta = mean(target) - mean(source) per layer. */
export interface MeanDifferenceParams extends ExampleSetsParams {
  source: string[];
  target: string[];
}

/** engine/layerDiagnostics: per-layer statistics of two contrastive sets and a suggested steering layer. */
export interface LayerDiagnosticsParams extends ExampleSetsParams {
  a: string[];
  b: string[];
}

/** engine/compareStates: cosine per layer of one token's hidden states in two prompts, with and without a plane. */
export interface CompareStatesParams {
  promptA: string;
  promptB: string;
  /** Index into each prompt's token ids (BOS is 0); negative counts from the end (-1 = last). */
  tokenA: number;
  tokenB: number;
  plane?: PlaneSpec & { alpha: number; positions?: 'all' | 'token' };
  chatTemplate?: boolean;
}

/** Method names of the engine protocol; requests are cancellable with JSON-RPC's $/cancelRequest. */
export const EngineMethods = {
  openModel: 'engine/openModel',
  /** Validates a model folder without opening it: { modelPath } -> ModelSummary. */
  inspectModel: 'engine/inspectModel',
  status: 'engine/status',
  train: 'engine/train',
  generate: 'engine/generate',
  meanDifference: 'engine/meanDifference',
  layerDiagnostics: 'engine/layerDiagnostics',
  compareStates: 'engine/compareStates',
  shutdown: 'engine/shutdown',
  /** Notification: { requestId, progress: TrainProgress } */
  trainProgress: 'engine/trainProgress',
  /** Notification: { requestId, row, text } — a text delta of one row. */
  token: 'engine/token',
} as const;

/**
 * Error codes of engine responses, outside JSON-RPC's reserved range except `internal`. The message is kept
 * as the engine wrote it; `input` marks an InputError (bad input: the message is for the user).
 */
export const EngineErrorCodes = {
  input: 1001,
  /** The request was cancelled ($/cancelRequest); LSP's RequestCancelled code. */
  cancelled: -32800,
  internal: -32603,
} as const;

/** The `data` of an engine error response. */
export interface EngineErrorData {
  /** The error's class name on the engine side. */
  name: string;
  /** For a training stopped by non-finite values or cancelled after some steps: the last good plane, as the trainer reported it. */
  lastGood?: unknown;
  /** The engine's stack trace of an internal error: the client shows it where its user asked for traces. */
  stack?: string;
}

export interface TrainProgressNotification {
  requestId: string;
  progress: TrainProgress;
}

export interface TokenNotification {
  requestId: string;
  row: number;
  text: string;
}

// ------------------------------------------------------------------ steering panel (webview <-> extension host)
// The panel's webview is untrusted input: the host checks every message it receives against these types
// and PANEL_LIMITS (src/extension/panelMessages.ts) before using it.

/** A plane as the panel lists it: what the picker and the loss chart show (never the vector itself). */
export interface PanelPlane {
  name: string;
  layer: number;
  b: number;
  finalLoss: number;
  lossHistory: number[];
  model: ModelIdentity;
}

/** A mean-difference vector as the panel lists it (never the values themselves). */
export interface PanelVector {
  name: string;
  layers: number[];
  /** The layer the panel steers with it (the record's only or middle layer). */
  steeringLayer: number;
  /** Absent for an imported control vector. */
  model?: ModelIdentity;
}

/** What a comparison steers with: a plane (alphas) or a mean-difference vector (coefficients). */
export type PanelSteering = 'plane' | 'vector';

/** Sampling as the panel sends it: every field present; seed null draws a fresh seed for the run (the run reports it). */
export type PanelSampling = Omit<Required<SamplingOptions>, 'seed'> & { seed: number | null };

/** One comparison: the prompt continued once per alpha, all rows in one batched engine run. */
export interface PanelGenerateParams {
  prompt: string;
  /** The plane's name, or the vector's with `steerWith: 'vector'`. */
  planeName: string;
  /** Default `plane`. With `vector`, the alphas are the vector's coefficients. */
  steerWith?: PanelSteering;
  /** One column each, in order; alpha 0 is the unsteered baseline (a row without the plane or vector). */
  alphas: number[];
  /** Only with `vector`: one more column, after the alphas, with the vector's direction ablated. */
  ablate?: PanelAblation;
  sampling: PanelSampling;
}

/** The panel's directional ablation of the chosen vector's direction (at its steering layer), after `layers`. */
export interface PanelAblation {
  layers: AblationSteering['layers'];
}

/** Bounds of what the panel may ask for; the webview's controls use the same ranges. */
export const PANEL_LIMITS = {
  maxAlphas: 8,
  alphaMin: -5,
  alphaMax: 10,
  alphaStep: 0.1,
  maxPromptChars: 50_000,
  maxPlaneNameChars: 200,
  /** Of a column's text sent back for copy or insert. */
  maxTextChars: 1_000_000,
  maxTemperature: 10,
  maxTopK: 1_000_000,
  maxNewTokens: 4096,
  maxSeed: 0xffffffff,
  /** Of the layers an ablation lists, and the highest layer index it may name. */
  maxAblationLayers: 256,
} as const;

export type WebviewToHostMessage =
  /** The webview has loaded (first time, after being hidden, or after a reload) and wants the current state. */
  | { type: 'ready' }
  | { type: 'generate'; params: PanelGenerateParams }
  | { type: 'stop' }
  | { type: 'copy'; text: string }
  | { type: 'insert'; text: string }
  /** The user picked a plane: it becomes the active plane (microSteer.activePlane), the one every command uses. */
  | { type: 'selectPlane'; name: string }
  /** The "Select model folder" button: runs that command. */
  | { type: 'selectModelFolder' };

export type PanelRunState = 'running' | 'done' | 'cancelled' | 'failed';

/** One column of a comparison: its alpha, the text so far and, once ended, how it ended. */
export interface PanelColumn {
  alpha: number;
  /** The column of the vector's direction ablated (its alpha is 0: nothing added). */
  ablation?: PanelAblation;
  text: string;
  tokens?: number;
  stopReason?: StopReason;
}

/** A comparison as the host knows it; sent whole when it starts, ends, or a webview (re)loads. */
export interface PanelRun {
  /** Increases within one extension host session; deltas of other runs are ignored. */
  runId: number;
  planeName: string;
  state: PanelRunState;
  columns: PanelColumn[];
  /** Why it failed. */
  error?: string;
  /** The failure is the model folder's: the panel offers to select another. */
  modelProblem?: boolean;
  /** The sampling seed the run used (drawn fresh when the panel's seed box was empty), to repeat it. */
  seed?: number;
}

export type HostToWebviewMessage =
  | { type: 'planes'; planes: PanelPlane[]; activePlane: string | null; vectors?: PanelVector[] }
  /** `busy`: why Generate cannot run now (the engine works for another command), shown beside the disabled button. */
  | { type: 'engineState'; text: string; busy?: string; noModel?: boolean }
  | { type: 'run'; run: PanelRun }
  /** Text appended to one column of a running comparison. */
  | { type: 'delta'; runId: number; column: number; text: string }
  /** `modelProblem`: the error is the model folder's, and the panel offers to select another. */
  | { type: 'notice'; level: 'info' | 'error'; text: string; modelProblem?: boolean };

// ------------------------------------------------------------------ diagnostics panel (webview <-> extension host)
// Checked like the steering panel's messages (src/extension/diagnosticsMessages.ts).

/** What the diagnostics panel plots: layer diagnostics of two sets, or a hidden-state comparison. */
export type DiagnosticsView =
  | { kind: 'layers'; result: LayerDiagnostics }
  | { kind: 'states'; result: StateComparison; promptA: string; promptB: string; planeName: string | null; alpha: number | null };

export type DiagnosticsToHostMessage =
  | { type: 'ready' }
  /** The "Train a plane at layer N" button: train on set B's examples at that layer. */
  | { type: 'trainAtLayer'; layer: number };

export type HostToDiagnosticsMessage = { type: 'show'; view: DiagnosticsView };
