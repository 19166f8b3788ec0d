/**
 * The llama.cpp peer (issue 10): the benchmark model converted to GGUF at the precision matching each
 * of our formats (f32 - F16, int8 - Q8_0, int4 - Q4_0), timed through node-llama-cpp in a child process
 * each with the same threads and prompts, and our figures divided by its. Our greedy tokens are compared
 * with llama.cpp's: at f32 vs F16 they should agree but for near ties; the quantized pairs round
 * differently (our scales are float32 and int4's is max|w| / 7, ggml's are f16 and Q4_0's is m / -8),
 * so there agreement only shows that the conversion reads the same model.
 */
import * as path from 'node:path';
import type { Gemma2Config, ModelFolder } from '../../src/engine/model/types';
import type { Bandwidth } from './bandwidth';
import { runChild } from './childProcess';
import type { FormatResult } from './formatBench';
import { ggufModel } from './ggufModel';
import type { LlamaRun, LlamaRunArgs } from './llamaChild';
import { WORKLOAD } from './prompts';
import type { Measurement } from './report';
import { PEER_FORMAT, rooflineTokensPerSecond, weightBytes, type GgufFormat } from './roofline';

const ROOT = path.resolve(__dirname, '..', '..', '..');
const GGUF_DIR = path.join(ROOT, '.cache', 'bench-models', 'gguf');

/** Below this lead of the top logit, an F16 rounding of the weights may well swap the greedy pick. */
const FRAGILE_MARGIN = 0.05;

export interface PeerResult {
  format: GgufFormat;
  run?: LlamaRun;
  /** Why it was not measured (the conversion or the load failed). */
  failed?: string;
}

function greedyCheck(ours: FormatResult, peer: LlamaRun, format: GgufFormat): { value: number; detail: string } {
  const mine = ours.run?.greedy ?? [];
  const theirs = peer.greedy;
  const first = mine.findIndex((t, i) => t !== theirs[i]);
  const same = first === -1 ? mine.length : first;
  // A random model may repeat one token: say how much the agreement covers.
  const distinct = `${new Set(mine).size} distinct, smallest top-2 logit gap ${Math.min(...(ours.run?.greedyMargins ?? [])).toPrecision(2)}; ours ${JSON.stringify((ours.run?.greedyText ?? '').slice(0, 40))}`;
  if (first === -1) return { value: same, detail: `all ${mine.length} greedy tokens agree (${distinct})` };
  const margin = ours.run?.greedyMargins[first] ?? NaN;
  const fragile = `; our top-2 logit gap there is ${margin.toPrecision(2)}${margin < FRAGILE_MARGIN ? `, a near tie that ${format} rounding can swap` : ', not a near tie'}`;
  return { value: same, detail: `first ${same} of ${mine.length} agree, then ours ${mine[first]} vs llama.cpp ${theirs[first]}${fragile}` };
}

export async function llamaBench(
  model: string,
  folder: ModelFolder,
  ours: readonly FormatResult[],
  options: { repeat: number; threads: number; bandwidth: Bandwidth },
): Promise<{ measurements: Measurement[]; results: PeerResult[] }> {
  const config: Gemma2Config = folder.config;
  const measurements: Measurement[] = [];
  const results: PeerResult[] = [];
  for (const mine of ours) {
    const format = PEER_FORMAT[mine.format];
    const add = (metric: string, value: number, unit: string, detail: string) => measurements.push({ model, weights: `llama.cpp ${format}`, metric, value, unit, detail });
    let run: LlamaRun;
    try {
      const { file, convertMs } = await ggufModel(folder, format, GGUF_DIR);
      if (convertMs !== null) add('convert to GGUF (bench only)', convertMs / 1000, 's', path.basename(file));
      console.error(`${model}: measuring llama.cpp on ${path.basename(file)} in a child process`);
      run = await runChild<LlamaRun>(path.join(__dirname, 'llamaChild.js'), { file, threads: options.threads, repeat: options.repeat } satisfies LlamaRunArgs, 30 * 60 * 1000);
    } catch (e) {
      const failed = e instanceof Error ? e.message : String(e);
      results.push({ format, failed });
      add('failed', NaN, '-', failed);
      continue;
    }
    results.push({ format, run });
    const reps = `median of ${options.repeat}, ${options.threads} threads, ${run.peer}`;
    add('load', run.loadMs, 'ms', 'getLlama + loadModel + createContext');
    add('time to first token', run.firstTokenMs, 'ms', `load + the first ${WORKLOAD.prefillTokens}-token prompt`);
    add('prefill', run.prefillTokensPerSecond, 'tokens/s', `batch 1, ${WORKLOAD.prefillTokens} tokens, ${reps}`);
    for (const [batch, tps] of Object.entries(run.decodeTokensPerSecond)) add(`decode batch ${batch}`, tps, 'tokens/s', `${WORKLOAD.decodeSteps} greedy steps after a ${WORKLOAD.decodePromptTokens}-token prompt, ${reps}`);
    const roofline = rooflineTokensPerSecond(config, format, options.bandwidth.bytesPerSecond);
    add('decode batch 1 / roofline', run.decodeTokensPerSecond[1] / roofline, 'ratio', `${(weightBytes(config, format) / 1e9).toFixed(3)} GB read per token = ${roofline.toPrecision(3)} tokens/s`);
    add('peak resident memory', run.peakRssBytes / 1e9, 'GB', 'VmHWM of the child process (mapped file pages included)');

    if (!mine.run) continue;
    const vs = `ours ${mine.format} / llama.cpp ${format}`;
    const ratio = (metric: string, a: number, b: number, detail: string) => measurements.push({ model, weights: vs, metric, value: a / b, unit: 'ratio', detail });
    ratio('prefill speed', mine.run.prefillTokensPerSecond, run.prefillTokensPerSecond, 'tokens/s over tokens/s, same prompt and threads');
    for (const batch of ['1', '4']) ratio(`decode speed batch ${batch}`, mine.run.decodeTokensPerSecond[batch], run.decodeTokensPerSecond[batch], 'tokens/s over tokens/s, same prompts and threads');
    ratio('load time', mine.run.loadMs, run.loadMs, 'ms over ms');
    ratio('peak resident memory', mine.run.generatePeakRssBytes, run.peakRssBytes, 'generate\'s bytes over bytes');
    const check = greedyCheck(mine, run, format);
    measurements.push({ model, weights: vs, metric: 'same greedy tokens', value: check.value, unit: 'tokens', detail: check.detail });
  }
  return { measurements, results };
}
