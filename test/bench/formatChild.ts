/**
 * One weights format of one model, alone in its process (see childProcess.ts): the one-time
 * conversion when the format's weights file is not there yet, load (opening the folder and the forward
 * session), load again once that runner is released (the weights' pages then in memory),
 * time to the first token of the prefill prompt, prefill and decode throughput, a greedy
 * continuation for the agreement check with llama.cpp, and then what a few training steps add to the
 * resident memory of generation. The tokenizer is loaded after the runner, as the engine's first
 * request loads them, so its load time counts in the first token and its memory in generation's peak.
 */
import { statSync } from 'node:fs';
import { Gemma2Runner, type FloatArray } from '../../src/engine/gemma2/runner';
import { openModelFolder } from '../../src/engine/model/modelFolder';
import { loadTokenizer } from '../../src/engine/tokenizer';
import { floatWeightsFile, needsFloatFile } from '../../src/engine/weights/floatFile';
import { quantizedWeightsFile } from '../../src/engine/weights/quantizedFile';
import { childMain, peakResidentBytes, residentBytes } from './childProcess';
import { benchIds, decodePrompt, decodeToken, GREEDY_PROMPT, PREFILL_PROMPT, WORKLOAD } from './prompts';
import { medianMs } from './report';
import type { BenchFormat } from './roofline';

export interface FormatRunArgs {
  dir: string;
  format: BenchFormat;
  repeat: number;
  threads: number;
  /** Also measure what training adds (false where a backward session would not fit beside this format's). */
  train: boolean;
}

export interface EngineRun {
  /** The one-time conversion into the format's weights file in this run, null when the file was already there. */
  convertMs: number | null;
  loadMs: number;
  /** Loading the tokenizer once the runner is open. */
  tokenizerMs: number;
  /** A second load in the same process after the first runner's release: the file's pages are then in memory. */
  reloadMs: number;
  firstTokenMs: number;
  prefillTokensPerSecond: number;
  /** By batch size. */
  decodeTokensPerSecond: Record<string, number>;
  greedy: number[];
  /** The greedy tokens as text. */
  greedyText: string;
  /** Per greedy step: the top logit minus the runner-up, to judge how fragile a tie is. */
  greedyMargins: number[];
  weightsReason: string;
  /** The peak before anything trained: generation's. */
  generatePeakRssBytes: number;
  /** Pss after generating, after each of the training steps (the most), and once training is released; null where not measured. */
  residentBytes: { generating: number; training: number | null; released: number | null };
  /** The process's peak, training included. */
  peakRssBytes: number;
}

/** Training rows of the memory check: sequence mode on 4 examples of 24 tokens. */
const TRAINING = { rows: 4, tokens: 24, steps: 3 };

/** The best id of row `row` and its lead over the second best. */
function top(logits: FloatArray, vocab: number, row = 0): { id: number; margin: number } {
  let best = -Infinity;
  let second = -Infinity;
  let id = 0;
  for (let v = 0; v < vocab; v++) {
    const x = logits[row * vocab + v];
    if (x > best) [second, best, id] = [best, x, v];
    else if (x > second) second = x;
  }
  return { id, margin: best - second };
}

async function run(args: FormatRunArgs): Promise<Omit<EngineRun, 'peakRssBytes'>> {
  const measured = await measure(args);
  const t0 = performance.now();
  const again = await Gemma2Runner.open(args.dir, runnerOptions(args));
  const reloadMs = performance.now() - t0;
  await again.release();
  return { ...measured, reloadMs };
}

const runnerOptions = (args: FormatRunArgs) => ({ device: 'cpu' as const, weights: args.format, intraOpNumThreads: args.threads });

async function measure(args: FormatRunArgs): Promise<Omit<EngineRun, 'peakRssBytes' | 'reloadMs'>> {
  const folder = await openModelFolder(args.dir);
  const vocab = folder.config.vocabSize;
  const made = Date.now();
  const file =
    args.format !== 'f32' ? await quantizedWeightsFile(folder, args.format === 'int8' ? 8 : 4, 'weights') : needsFloatFile(folder) ? await floatWeightsFile(folder) : null;
  const convertMs = file && statSync(file.file).mtimeMs >= made ? Date.now() - made : null;

  const t0 = performance.now();
  const runner = await Gemma2Runner.open(folder, runnerOptions(args));
  const loadMs = performance.now() - t0;
  try {
    const tokenizer = await loadTokenizer(args.dir);
    const tokenizerMs = performance.now() - t0 - loadMs;
    top((await runner.prefill([PREFILL_PROMPT])).logits, vocab);
    const firstTokenMs = performance.now() - t0;
    const prefillMs = await medianMs(args.repeat, () => runner.prefill([PREFILL_PROMPT]));

    const decodeTokensPerSecond: Record<string, number> = {};
    for (const batch of [1, 4]) {
      const rows = Array.from({ length: batch }, (_, i) => decodePrompt(i));
      const withDecode = await medianMs(args.repeat, async () => {
        let step = await runner.prefill(rows);
        for (let s = 0; s < WORKLOAD.decodeSteps; s++) step = await runner.decode(step.cache, rows.map((_, i) => decodeToken(s, i)));
      });
      const prefillOnly = await medianMs(args.repeat, () => runner.prefill(rows));
      decodeTokensPerSecond[batch] = ((batch * WORKLOAD.decodeSteps) / (withDecode - prefillOnly)) * 1000;
    }

    const greedy: number[] = [];
    const greedyMargins: number[] = [];
    let step = await runner.prefill([GREEDY_PROMPT]);
    for (let s = 0; s < WORKLOAD.greedyTokens; s++) {
      const next = top(step.logits, vocab);
      greedy.push(next.id);
      greedyMargins.push(next.margin);
      if (s + 1 < WORKLOAD.greedyTokens) step = await runner.decode(step.cache, [next.id]);
    }

    const generatePeakRssBytes = peakResidentBytes();
    const generating = residentBytes();
    const training = args.train ? await trainingResident(runner) : null;
    return {
      convertMs,
      loadMs,
      tokenizerMs,
      firstTokenMs,
      prefillTokensPerSecond: (PREFILL_PROMPT.length / prefillMs) * 1000,
      decodeTokensPerSecond,
      greedy,
      greedyText: tokenizer.decode(greedy),
      greedyMargins,
      weightsReason: runner.weights.reason,
      generatePeakRssBytes,
      residentBytes: { generating, training, released: training === null ? null : residentBytes() },
    };
  } finally {
    await runner.release();
  }
}

/** The most resident (Pss) after each of a few training steps, with the backward session released after. */
async function trainingResident(runner: Gemma2Runner): Promise<number> {
  const examples = Array.from({ length: TRAINING.rows }, (_, i) => benchIds(TRAINING.tokens, 200 + i));
  const sites = await runner.hookActivations(examples);
  const rows = examples.map((ids, i) => ({ ids, ...sites[i] }));
  const hidden = runner.folder.config.hiddenSize;
  const plane = { n: new Float32Array(hidden).fill(1 / Math.sqrt(hidden)), b: 0.1 };
  let most = 0;
  for (let s = 0; s < TRAINING.steps; s++) {
    await runner.trainStep(rows, plane, 1);
    most = Math.max(most, residentBytes());
  }
  await runner.releaseTraining();
  return most;
}

if (require.main === module) childMain(run);
