/**
 * Pretraining a small Gemma-2 from text files: trains its byte-level BPE tokenizer on the corpus,
 * packs the documents into windows, and runs AdamW on the whole model through the pretraining graph
 * (weights as inputs, gradients by the engine's own autodiff). Evaluates held-out loss per source,
 * checkpoints every N steps and when aborted, resumes from the last checkpoint, and finally writes
 * a Hugging Face Gemma-2 folder that every Gemma-2 reader loads.
 */
import { existsSync } from 'node:fs';
import { rm, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { InputError } from '../errors';
import { gemma2TensorShapes } from '../model/modelFolder';
import { checkGemma2Shape, gemma2ConfigJson, prepareModelFolder, writeModelMetadata, writeSafetensorsFile, type Gemma2Architecture, type Gemma2Shape } from '../model/modelWriter';
import { parseGemma2Config } from '../model/config';
import { decodeTensor, encodeTensor } from '../model/tensorData';
import type { SafetensorsDtype } from '../model/types';
import { SeededRandom } from '../random';
import type { Device } from '../runtime/session';
import { loadTokenizer } from '../tokenizer';
import { CONFIG_FILE, TOKENIZER_CONFIG_FILE, TOKENIZER_FILE, WEIGHTS_FILE } from '../model/modelFolder';
import { ADAMW_DEFAULTS, AdamW, learningRate } from './adamw';
import { trainBpe } from './bpeTrainer';
import { loadCheckpoint, readCheckpointState, saveCheckpoint } from './checkpoint';
import { readCorpus, type CorpusSource } from './corpus';
import { PretrainSessions, type SourceMeasure, type Weights } from './pretrainSessions';
import { BOS_ID, END_OF_TURN_ID, EOS_ID, PAD_ID, SPECIAL_TOKENS, tokenizerFiles } from './tokenizerFiles';
import { evaluationStarts, tokenStream, windowBatch, type TokenStream } from './tokenStream';

export interface PretrainSettings extends Gemma2Shape {
  /** Tokens in the vocabulary, special tokens included. */
  vocab: number;
  /** Tokens a window predicts (the model's context, max_position_embeddings). */
  context: number;
  steps: number;
  batchTokens: number;
  lr: number;
  warmupSteps: number;
  minLrRatio: number;
  weightDecay: number;
  seed: number;
  heldoutEvery: number;
  dtype: 'bf16' | 'f32';
}

export const PRETRAIN_DEFAULTS: PretrainSettings = {
  layers: 4,
  hidden: 192,
  heads: 3,
  kvHeads: 1,
  headDim: 64,
  intermediate: 512,
  slidingWindow: 64,
  vocab: 4096,
  context: 256,
  steps: 2000,
  batchTokens: 2048,
  lr: 3e-3,
  warmupSteps: 100,
  minLrRatio: 0.1,
  weightDecay: 0.1,
  seed: 0,
  heldoutEvery: 20,
  dtype: 'bf16',
};

export type { SourceMeasure } from './pretrainSessions';

export interface PretrainOptions {
  corpus: readonly string[];
  out: string;
  /** Defaults filled in from PRETRAIN_DEFAULTS; with `resume`, only `steps` may differ from the checkpoint's. */
  settings: Partial<PretrainSettings>;
  resume?: boolean;
  /** Replace a model already in `out` (never with resume). */
  force?: boolean;
  evalEvery?: number;
  /** Evaluation windows per source in the periodic evaluations (the final one reads every window). */
  evalWindows?: number;
  checkpointEvery?: number;
  device?: Device;
  threads?: number;
  signal?: AbortSignal;
  onProgress?: (p: PretrainProgress) => void;
}

export type PretrainProgress =
  | { kind: 'status'; message: string }
  | { kind: 'step'; step: number; steps: number; loss: number; lr: number; tokensPerSecond: number; elapsedSeconds: number; etaSeconds: number }
  | { kind: 'eval'; step: number; heldout: SourceMeasure[] }
  | { kind: 'checkpoint'; step: number; dir: string };

export interface PretrainResult {
  out: string;
  settings: PretrainSettings;
  parameters: number;
  stepsDone: number;
  tokensSeen: number;
  trainingSeconds: number;
  /** Mean training loss over the last steps (up to 50). */
  finalTrainLoss: number;
  /** Per source, measured on the saved weights: a slice of the training text, and all held-out text. */
  train: SourceMeasure[];
  heldout: SourceMeasure[];
  device: string;
  /** True when stopped by the signal: the checkpoint is saved and `out` holds no model yet. */
  interrupted: boolean;
}

/** Written next to the model: the settings and measures the model card reports. */
export const PRETRAINING_RECORD = 'pretraining.json';
const CHECKPOINT_DIR = 'checkpoint';

interface CheckpointMeta {
  settings: PretrainSettings;
  sources: string[];
  tokensSeen: number;
  trainingSeconds: number;
  recentLosses: number[];
}

export async function pretrain(options: PretrainOptions): Promise<PretrainResult> {
  const out = path.resolve(options.out);
  const checkpointDir = path.join(out, CHECKPOINT_DIR);
  const say = (message: string) => options.onProgress?.({ kind: 'status', message });

  let settings = resolveSettings(options.settings);
  const resumed = options.resume ? await loadCheckpointFor(checkpointDir, options.settings) : null;
  if (resumed) settings = { ...resumed.meta.settings, steps: settings.steps };
  else await prepareOutput(out, options.force ?? false);

  // The model's sizes against the engine's limits, before any work.
  parseGemma2Config(gemma2ConfigJson(architecture(settings), specialTokens(), torchDtype(settings.dtype)), 'pretraining settings');
  const sources = await readCorpus(options.corpus, { heldoutEvery: settings.heldoutEvery });
  if (resumed && resumed.meta.sources.join('\n') !== sources.map((s) => s.name).join('\n')) {
    throw new InputError(`cannot resume: the checkpoint was trained on ${resumed.meta.sources.join(', ')}, not ${sources.map((s) => s.name).join(', ')}`);
  }
  if (!resumed) {
    say(`training the tokenizer (${settings.vocab} tokens) on ${sources.reduce((n, s) => n + s.train.length, 0)} documents`);
    const vocabulary = trainBpe(
      sources.flatMap((s) => s.train),
      { size: settings.vocab - SPECIAL_TOKENS.length },
    );
    const files = tokenizerFiles(vocabulary, settings.context);
    await writeFile(path.join(out, TOKENIZER_FILE), files.tokenizerJson);
    await writeFile(path.join(out, TOKENIZER_CONFIG_FILE), files.tokenizerConfigJson);
    // A small corpus may stop merging early: the embedding then holds exactly the tokens there are.
    settings = { ...settings, vocab: files.vocabSize };
  }

  say('tokenizing the corpus');
  const tokenizer = await loadTokenizer(out);
  const streams = sources.map((s) => ({ name: s.name, train: tokenStream(s.train, tokenizer, EOS_ID), heldout: tokenStream(s.heldout, tokenizer, EOS_ID) }));
  const trainStream = concatStreams(streams.map((s) => s.train));
  checkStreams(streams, sources, settings.context);

  const arch = architecture(settings);
  const configJson = gemma2ConfigJson(arch, specialTokens(), torchDtype(settings.dtype));
  const config = parseGemma2Config(configJson, 'pretraining settings');
  const shapes = gemma2TensorShapes(config);
  const names = [...shapes.keys()];
  const weights = resumed?.weights ?? initialWeights(shapes, settings);
  const optimizer = new AdamW(
    names.map((n) => (weights.get(n) as Float32Array).length),
    { ...ADAMW_DEFAULTS, weightDecay: settings.weightDecay },
    resumed?.optimizer,
  );
  const decays = names.map((n) => (shapes.get(n) as number[]).length === 2);

  say('compiling the training graph');
  const rows = Math.max(1, Math.floor(settings.batchTokens / settings.context));
  const sessions = await PretrainSessions.open(config, shapes, { rows, context: settings.context, device: options.device ?? 'auto', threads: options.threads, dir: out });
  if (sessions.fallbackReason) say(sessions.fallbackReason);
  const heldoutMeasures = (w: Weights, maxWindows: number) => serial(streams, (s) => sessions.measure(w, s.heldout, s.name, maxWindows));

  const meta: CheckpointMeta = resumed?.meta ?? { settings, sources: sources.map((s) => s.name), tokensSeen: 0, trainingSeconds: 0, recentLosses: [] };
  meta.settings = settings;
  const checkpoint = async (step: number) => {
    await saveCheckpoint(checkpointDir, { step, meta, weights, optimizer: optimizer.state }, shapes);
    options.onProgress?.({ kind: 'checkpoint', step, dir: checkpointDir });
  };
  const schedule = { peak: settings.lr, warmupSteps: settings.warmupSteps, totalSteps: settings.steps, minRatio: settings.minLrRatio };
  const evalEvery = options.evalEvery ?? 250;
  const checkpointEvery = options.checkpointEvery ?? 250;
  const evalWindows = options.evalWindows ?? 16;

  say(`training ${countParameters(shapes)} parameters on ${trainStream.ids.length} tokens, ${rows} x ${settings.context} tokens per step`);
  const firstStep = resumed?.step ?? 0;
  const started = Date.now();
  const secondsBefore = meta.trainingSeconds;
  for (let step = firstStep; step < settings.steps; step++) {
    if (options.signal?.aborted) {
      meta.trainingSeconds = secondsBefore + (Date.now() - started) / 1000;
      await checkpoint(step);
      return { ...summary(step, true), train: [], heldout: [] };
    }
    const random = new SeededRandom((settings.seed ^ Math.imul(step + 1, 0x9e3779b1)) >>> 0);
    const starts = Array.from({ length: rows }, () => Math.floor(random.uniform() * (trainStream.ids.length - settings.context - 1)) % (trainStream.ids.length - settings.context - 1));
    const { loss, grads } = await sessions.step(weights, windowBatch(trainStream, starts, settings.context));
    if (!Number.isFinite(loss)) {
      throw new InputError(`pretraining diverged at step ${step + 1} (loss ${loss}); lower --lr and resume from the checkpoint in ${checkpointDir}`);
    }
    const lr = learningRate(step, schedule);
    optimizer.step(names.map((n) => weights.get(n) as Float32Array), grads, lr, decays);
    meta.tokensSeen += rows * settings.context;
    meta.recentLosses = [...meta.recentLosses.slice(-49), loss];
    meta.trainingSeconds = secondsBefore + (Date.now() - started) / 1000;
    const done = step + 1 - firstStep;
    const elapsed = (Date.now() - started) / 1000;
    options.onProgress?.({
      kind: 'step',
      step: step + 1,
      steps: settings.steps,
      loss,
      lr,
      tokensPerSecond: (done * rows * settings.context) / elapsed,
      elapsedSeconds: meta.trainingSeconds,
      etaSeconds: (elapsed / done) * (settings.steps - step - 1),
    });
    if ((step + 1) % evalEvery === 0 && step + 1 < settings.steps) {
      options.onProgress?.({ kind: 'eval', step: step + 1, heldout: await heldoutMeasures(weights, evalWindows) });
    }
    if ((step + 1) % checkpointEvery === 0 && step + 1 < settings.steps) await checkpoint(step + 1);
  }

  say('measuring the saved weights on every held-out window');
  const saved = roundTo(weights, settings.dtype);
  const heldout = await heldoutMeasures(saved, Infinity);
  const train = await serial(streams, (s) => sessions.measure(saved, s.train, s.name, Math.max(1, evaluationStarts(s.heldout, settings.context).length)));
  const dtype: SafetensorsDtype = settings.dtype === 'bf16' ? 'BF16' : 'F32';
  await writeSafetensorsFile(
    path.join(out, WEIGHTS_FILE),
    names.map((name) => ({ name, dtype, shape: shapes.get(name) as number[] })),
    (t) => saved.get(t.name) as Float32Array,
  );
  await writeModelMetadata(out, configJson, specialTokens());
  const result: PretrainResult = { ...summary(settings.steps, false), train, heldout };
  await writeFile(path.join(out, PRETRAINING_RECORD), `${JSON.stringify({ ...result, out: undefined }, null, 2)}\n`);
  await rm(checkpointDir, { recursive: true, force: true });
  return result;

  function summary(stepsDone: number, interrupted: boolean): Omit<PretrainResult, 'train' | 'heldout'> {
    const recent = meta.recentLosses;
    return {
      out,
      settings,
      parameters: countParameters(shapes),
      stepsDone,
      tokensSeen: meta.tokensSeen,
      trainingSeconds: Math.round(meta.trainingSeconds),
      finalTrainLoss: recent.reduce((a, b) => a + b, 0) / Math.max(1, recent.length),
      device: sessions.device,
      interrupted,
    };
  }
}

function resolveSettings(partial: Partial<PretrainSettings>): PretrainSettings {
  const s: PretrainSettings = { ...PRETRAIN_DEFAULTS };
  for (const [k, v] of Object.entries(partial) as [keyof PretrainSettings, unknown][]) if (v !== undefined) (s as unknown as Record<string, unknown>)[k] = v;
  // Keys by their command-line names: kvHeads is --kv-heads.
  checkGemma2Shape(s, 'pretraining', (key) => key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`));
  for (const k of ['context', 'steps', 'batchTokens', 'heldoutEvery'] as const) {
    if (!Number.isInteger(s[k]) || s[k] < 1) throw new InputError(`pretraining ${k} must be a positive integer, got ${s[k]}`);
  }
  if (!Number.isInteger(s.vocab) || s.vocab < SPECIAL_TOKENS.length + 256) {
    throw new InputError(`pretraining vocab must be at least ${SPECIAL_TOKENS.length + 256} (special tokens and the 256 bytes), got ${s.vocab}`);
  }
  if (s.heldoutEvery < 2) throw new InputError(`pretraining heldout-every must be at least 2, got ${s.heldoutEvery}`);
  if (!(s.lr > 0 && s.lr < 1)) throw new InputError(`pretraining lr must be in (0, 1), got ${s.lr}`);
  if (!(s.weightDecay >= 0 && s.weightDecay < 1)) throw new InputError(`pretraining weight decay must be in [0, 1), got ${s.weightDecay}`);
  if (!(s.minLrRatio >= 0 && s.minLrRatio <= 1)) throw new InputError(`pretraining min-lr-ratio must be in [0, 1], got ${s.minLrRatio}`);
  if (!Number.isInteger(s.warmupSteps) || s.warmupSteps < 0) throw new InputError(`pretraining warmup must be a non-negative integer, got ${s.warmupSteps}`);
  if (!Number.isInteger(s.seed) || s.seed < 0 || s.seed > 0xffffffff) throw new InputError(`pretraining seed must be an integer in [0, 4294967295], got ${s.seed}`);
  if (s.dtype !== 'bf16' && s.dtype !== 'f32') throw new InputError(`pretraining dtype must be bf16 or f32, got ${s.dtype}`);
  return s;
}

/** The checkpoint to resume, after checking that what the caller set explicitly agrees with it. */
async function loadCheckpointFor(dir: string, explicit: Partial<PretrainSettings>) {
  const state = await readCheckpointState<CheckpointMeta>(dir);
  const { meta } = state;
  for (const [k, v] of Object.entries(explicit) as [keyof PretrainSettings, unknown][]) {
    if (k !== 'steps' && v !== undefined && meta.settings[k] !== v) {
      throw new InputError(`cannot resume with ${k} ${String(v)}: the checkpoint in ${dir} was trained with ${String(meta.settings[k])}`);
    }
  }
  const config = parseGemma2Config(gemma2ConfigJson(architecture(meta.settings), specialTokens(), torchDtype(meta.settings.dtype)), 'checkpoint settings');
  return loadCheckpoint(dir, state, gemma2TensorShapes(config));
}

/** What pretraining writes into its folder. */
const PRETRAINING_FILES = new Set([CONFIG_FILE, 'generation_config.json', WEIGHTS_FILE, TOKENIZER_FILE, TOKENIZER_CONFIG_FILE, PRETRAINING_RECORD, CHECKPOINT_DIR]);

async function prepareOutput(out: string, force: boolean): Promise<void> {
  if (!force && existsSync(path.join(out, CHECKPOINT_DIR))) {
    throw new InputError(`${out} holds an unfinished pretraining run: pass --resume to continue it, or --force to start over`);
  }
  await prepareModelFolder(out, force, (e) => PRETRAINING_FILES.has(e), `${out} is not empty; choose an empty folder or pass --force to replace the model there`);
}

function architecture(s: PretrainSettings): Gemma2Architecture {
  return { ...s, vocabSize: s.vocab, maxPositions: s.context };
}

function specialTokens() {
  return { bos: BOS_ID, pad: PAD_ID, eos: [EOS_ID, END_OF_TURN_ID] };
}

function torchDtype(dtype: PretrainSettings['dtype']): string {
  return dtype === 'bf16' ? 'bfloat16' : 'float32';
}

function countParameters(shapes: ReadonlyMap<string, number[]>): number {
  let n = 0;
  for (const s of shapes.values()) n += s.reduce((a, b) => a * b, 1);
  return n;
}

/**
 * GPT-2's initialisation adapted to Gemma-2: projections and the (tied) embedding N(0, 0.02^2), the
 * projections that write into the residual stream (o_proj, down_proj) scaled by 1/sqrt(2 * layers),
 * norm weights 0 (gains 1 + w = 1).
 */
function initialWeights(shapes: ReadonlyMap<string, number[]>, s: PretrainSettings): Map<string, Float32Array> {
  const random = new SeededRandom(s.seed);
  const weights = new Map<string, Float32Array>();
  for (const [name, shape] of shapes) {
    const values = new Float32Array(shape.reduce((a, b) => a * b, 1));
    if (shape.length === 2) {
      const std = /(o_proj|down_proj)\.weight$/.test(name) ? 0.02 / Math.sqrt(2 * s.layers) : 0.02;
      for (let i = 0; i < values.length; i++) values[i] = std * random.normal();
    }
    weights.set(name, values);
  }
  return weights;
}

/** The weights as the saved file will hold them (bf16 rounding), so measures describe what ships. */
function roundTo(weights: ReadonlyMap<string, Float32Array>, dtype: PretrainSettings['dtype']): Map<string, Float32Array> {
  if (dtype === 'f32') return new Map(weights);
  return new Map([...weights].map(([n, w]) => [n, decodeTensor(encodeTensor(w, 'BF16'), 'BF16')]));
}

function concatStreams(streams: readonly TokenStream[]): TokenStream {
  const total = streams.reduce((n, s) => n + s.ids.length, 0);
  const ids = new Int32Array(total);
  const isText = new Uint8Array(total);
  let at = 0;
  for (const s of streams) {
    ids.set(s.ids, at);
    isText.set(s.isText, at);
    at += s.ids.length;
  }
  return { ids, isText, chars: streams.reduce((n, s) => n + s.chars, 0) };
}

function checkStreams(streams: { name: string; train: TokenStream; heldout: TokenStream }[], sources: CorpusSource[], context: number): void {
  streams.forEach((s, i) => {
    for (const [part, stream] of [['training', s.train], ['held-out', s.heldout]] as const) {
      if (stream.ids.length <= context + 1) {
        throw new InputError(
          `the ${part} slice of ${s.name} has ${stream.ids.length} tokens (${sources[i][part === 'training' ? 'train' : 'heldout'].length} documents), ` +
            `too few for one window of --context ${context}: add text or lower --context`,
        );
      }
    }
  });
}

async function serial<T, R>(items: readonly T[], f: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = [];
  for (const item of items) results.push(await f(item));
  return results;
}
