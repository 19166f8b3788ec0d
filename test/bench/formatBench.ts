/**
 * Issue 10's per-format figures of our engine: each weights format in its own child process
 * (formatChild.ts), with the decode roofline ratio against the bandwidth measured in this run and the
 * peak resident memory against the weights' own size.
 */
import * as os from 'node:os';
import * as path from 'node:path';
import type { Gemma2Config, ModelFolder } from '../../src/engine/model/types';
import { packsWeights } from '../../src/engine/weights/weightsFormat';
import type { Bandwidth } from './bandwidth';
import { runChild } from './childProcess';
import type { EngineRun, FormatRunArgs } from './formatChild';
import { WORKLOAD } from './prompts';
import type { Measurement } from './report';
import { rooflineTokensPerSecond, weightBytes, type BenchFormat } from './roofline';

/** `generate` at f32 peaked at 1.07x the float32 weights on the 2B shape (was 1.6x before the float32 file); with room. */
const F32_PEAK_PER_WEIGHT_BYTE = 1.2;
/** Run f32 only when that estimate leaves this share of the available memory free: others use the machine too. */
const MEMORY_MARGIN = 0.75;

export interface FormatResult {
  format: BenchFormat;
  run?: EngineRun;
  /** Why the format was not measured. */
  skipped?: string;
}

/** Why f32 would not fit now, or null. */
function f32Problem(config: Gemma2Config): string | null {
  const need = weightBytes(config, 'f32') * F32_PEAK_PER_WEIGHT_BYTE;
  const available = os.freemem();
  if (need <= available * MEMORY_MARGIN) return null;
  const gb = (b: number) => `${(b / 1e9).toFixed(1)} GB`;
  return `f32 skipped: it needs about ${gb(need)} resident (${F32_PEAK_PER_WEIGHT_BYTE}x its float32 weights) and ${gb(available)} is available now; it runs when that is at most ${MEMORY_MARGIN * 100}% of what is available`;
}

export async function formatBench(
  model: string,
  dir: string,
  folder: ModelFolder,
  formats: readonly BenchFormat[],
  options: { repeat: number; threads: number; bandwidth: Bandwidth },
): Promise<{ measurements: Measurement[]; results: FormatResult[] }> {
  const measurements: Measurement[] = [];
  const results: FormatResult[] = [];
  const config = folder.config;
  for (const format of formats) {
    const add = (metric: string, value: number, unit: string, detail: string) => measurements.push({ model, weights: format, metric, value, unit, detail });
    const problem = format === 'f32' ? f32Problem(config) : null;
    if (problem) {
      console.error(`${model}: ${problem}`);
      results.push({ format, skipped: problem });
      add('skipped', NaN, '-', problem);
      continue;
    }
    console.error(`${model}: measuring weights ${format} in a child process`);
    // A float32 backward session packs another copy of the upper layers' weights, or reads the mapped file generation reads.
    const backward = packsWeights('f32', folder) ? 1 : 0.1;
    const train = format !== 'f32' || weightBytes(config, 'f32') * (F32_PEAK_PER_WEIGHT_BYTE + backward) <= os.freemem() * MEMORY_MARGIN;
    const args: FormatRunArgs = { dir, format, repeat: options.repeat, threads: options.threads, train };
    const run = await runChild<EngineRun>(path.join(__dirname, 'formatChild.js'), args, 60 * 60 * 1000);
    results.push({ format, run });
    const reps = `median of ${options.repeat}, ${options.threads} threads`;
    if (run.convertMs !== null) add('one-time conversion', run.convertMs / 1000, 's', 'writes the format\'s microsteer-weights-*.safetensors; later opens reuse it');
    add('load', run.loadMs, 'ms', 'Gemma2Runner.open: folder + forward session (graph compiled if not cached)');
    add('load again', run.reloadMs, 'ms', 'a second Gemma2Runner.open in the same process once the first is released: the weights\' pages in memory');
    add('load tokenizer', run.tokenizerMs, 'ms', 'after the runner, as the engine\'s first request loads it');
    add('time to first token', run.firstTokenMs, 'ms', `load + tokenizer + the first ${WORKLOAD.prefillTokens}-token prefill`);
    add('prefill', run.prefillTokensPerSecond, 'tokens/s', `batch 1, ${WORKLOAD.prefillTokens} tokens, ${reps}`);
    for (const [batch, tps] of Object.entries(run.decodeTokensPerSecond)) {
      add(`decode batch ${batch}`, tps, 'tokens/s', `${WORKLOAD.decodeSteps} steps after a ${WORKLOAD.decodePromptTokens}-token prefill, ${reps}`);
    }
    const roofline = rooflineTokensPerSecond(config, format, options.bandwidth.bytesPerSecond);
    const bytes = weightBytes(config, format);
    add('decode batch 1 / roofline', run.decodeTokensPerSecond[1] / roofline, 'ratio', `${(bytes / 1e9).toFixed(3)} GB read per token at ${(options.bandwidth.bytesPerSecond / 1e9).toFixed(1)} GB/s = ${roofline.toPrecision(3)} tokens/s`);
    add('peak resident memory', run.generatePeakRssBytes / 1e9, 'GB', `VmHWM of the child process before training; weights in ${format}: ${(bytes / 1e9).toFixed(3)} GB`);
    const resident = run.residentBytes;
    add('resident while generating', resident.generating / 1e9, 'GB', 'Pss (each page once) after the decode measurements');
    if (resident.training !== null && resident.released !== null) {
      add('resident while training', resident.training / 1e9, 'GB', 'Pss after each of 3 training steps (4 rows x 24 tokens), the most');
      add('training adds', (resident.training - resident.generating) / 1e9, 'GB', "resident while training minus while generating: the backward session and the steps' activations");
      add('resident after training', resident.released / 1e9, 'GB', 'Pss once the backward session is released');
    } else {
      add('training adds', NaN, '-', 'not measured: a float32 backward session packing its weights would not fit beside the float32 weights');
    }
    add('peak resident incl. training', run.peakRssBytes / 1e9, 'GB', 'VmHWM of the child process at its end');
  }
  return { measurements, results };
}
