/**
 * Messages shared by the engine process, its clients (the extension, the CLI) and the webview.
 * These types describe well-formed messages; each receiver validates what it gets (the webview and
 * the workspace settings are untrusted input).
 */
import type { ModelSummary } from './engine/model/types';

export type { ModelSummary };

export type Device = 'auto' | 'cuda' | 'cpu';

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
  /** Examples per step in `sequence` mode (default: all of them). */
  batchSize?: number;
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
  seed: 0,
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
  training: Required<Omit<TrainOptions, 'batchSize'>> & { batchSize: number; examples: number };
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
}

export type StopReason = 'eos' | 'maxTokens' | 'cancelled';

export interface GenerationResult {
  rows: { text: string; tokens: number; stopReason: StopReason }[];
}

// ------------------------------------------------------------------ engine JSON-RPC

export interface OpenModelParams {
  modelPath: string;
  device?: Device;
}

export interface EngineStatus {
  model: ModelSummary | null;
  device: 'cuda' | 'cpu' | null;
  /** Why the engine runs on the CPU when CUDA was tried. */
  fallbackReason: string | null;
  busy: 'training' | 'generating' | null;
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
  rows: GenerationRow[];
  sampling: SamplingOptions;
}

/** Method names of the engine protocol; requests are cancellable with JSON-RPC's $/cancelRequest. */
export const EngineMethods = {
  openModel: 'engine/openModel',
  status: 'engine/status',
  train: 'engine/train',
  generate: 'engine/generate',
  shutdown: 'engine/shutdown',
  /** Notification: { requestId, progress: TrainProgress } */
  trainProgress: 'engine/trainProgress',
  /** Notification: { requestId, row, text } — a text delta of one row. */
  token: 'engine/token',
} as const;

export interface TrainProgressNotification {
  requestId: string;
  progress: TrainProgress;
}

export interface TokenNotification {
  requestId: string;
  row: number;
  text: string;
}
