/**
 * One GGUF file in llama.cpp through node-llama-cpp, alone in its process (see childProcess.ts), on
 * the CPU with its prebuilt binaries only (nothing is downloaded or compiled), and the same workload
 * as formatChild.ts: load, time to the first token, prefill, decode at batch 1 and 4, and a greedy
 * continuation. Every timed run asks for sampled tokens, so that llama.cpp computes the logits that
 * our runner returns too.
 */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import type { LlamaContext, LlamaContextSequence, Token } from 'node-llama-cpp' with { 'resolution-mode': 'import' };
import { childMain } from './childProcess';
import { decodePrompt, GREEDY_PROMPT, PREFILL_PROMPT, WORKLOAD } from './prompts';
import { medianMs } from './report';

export interface LlamaRunArgs {
  file: string;
  threads: number;
  repeat: number;
}

export interface LlamaRun {
  /** node-llama-cpp's version and the llama.cpp release of its binaries. */
  peer: string;
  loadMs: number;
  firstTokenMs: number;
  prefillTokensPerSecond: number;
  decodeTokensPerSecond: Record<string, number>;
  greedy: number[];
  peakRssBytes: number;
}

/** The first `count` greedy tokens after `prompt` on a sequence with no history. */
async function generate(sequence: LlamaContextSequence, prompt: readonly number[], count: number): Promise<number[]> {
  await sequence.clearHistory();
  const out: number[] = [];
  if (count === 0) return out;
  for await (const token of sequence.evaluate(prompt as Token[], { temperature: 0, yieldEogToken: true })) {
    out.push(token);
    if (out.length >= count) break;
  }
  return out;
}

async function run(args: LlamaRunArgs): Promise<Omit<LlamaRun, 'peakRssBytes'>> {
  // An ES module: import() keeps it one from this CommonJS file.
  const { getLlama, LlamaLogLevel } = await import('node-llama-cpp');
  const manifest = path.resolve(__dirname, '..', '..', '..', 'node_modules', 'node-llama-cpp', 'package.json');
  const { version } = JSON.parse(readFileSync(manifest, 'utf8')) as { version: string };
  const threads = { ideal: args.threads, min: args.threads };
  const t0 = performance.now();
  const llama = await getLlama({ gpu: false, build: 'never', skipDownload: true, progressLogs: false, maxThreads: args.threads, logLevel: LlamaLogLevel.error });
  const model = await llama.loadModel({ modelPath: args.file, gpuLayers: 0 });
  const single = await model.createContext({ contextSize: 512, sequences: 1, threads });
  const loadMs = performance.now() - t0;
  const sequence = single.getSequence();
  await generate(sequence, PREFILL_PROMPT, 1);
  const firstTokenMs = performance.now() - t0;
  const prefillMs = await medianMs(args.repeat, () => generate(sequence, PREFILL_PROMPT, 1));

  const decodeTokensPerSecond: Record<string, number> = {};
  let batched: LlamaContext | undefined;
  for (const batch of [1, 4]) {
    const context = batch === 1 ? single : (batched = await model.createContext({ contextSize: 512 * batch, sequences: batch, threads }));
    const sequences = batch === 1 ? [sequence] : Array.from({ length: batch }, () => context.getSequence());
    const all = (count: number) => Promise.all(sequences.map((s, i) => generate(s, decodePrompt(i), count)));
    const withDecode = await medianMs(args.repeat, () => all(1 + WORKLOAD.decodeSteps));
    const prefillOnly = await medianMs(args.repeat, () => all(1));
    decodeTokensPerSecond[batch] = ((batch * WORKLOAD.decodeSteps) / (withDecode - prefillOnly)) * 1000;
  }
  const greedy = await generate(sequence, GREEDY_PROMPT, WORKLOAD.greedyTokens);
  await batched?.dispose();
  await single.dispose();
  await model.dispose();
  return {
    peer: `node-llama-cpp ${version} (llama.cpp ${llama.llamaCppRelease.release}, ${llama.buildType} binaries, CPU)`,
    loadMs,
    firstTokenMs,
    prefillTokensPerSecond: (PREFILL_PROMPT.length / prefillMs) * 1000,
    decodeTokensPerSecond,
    greedy,
  };
}

if (require.main === module) childMain(run);
