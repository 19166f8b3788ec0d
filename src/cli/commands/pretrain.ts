/** `microsteer pretrain`: pretrain a small Gemma-2 (and its tokenizer) on text files, writing a Hugging Face folder. */
import type { Command } from '../command';
import { parseCommandArgs, parseInteger, parseNumber, requireOption } from '../args';
import { ProgressBar, stepBar } from '../progressBar';
import { InputError } from '../../engine/errors';
import { PRETRAIN_DEFAULTS, pretrain, type PretrainProgress, type PretrainSettings, type SourceMeasure } from '../../engine/pretrain/pretrainer';
import { parseDevice } from './deviceOption';
import { SHAPE_OPTIONS, parseShapeOptions, shapeUsage } from './shapeOptions';

const d = PRETRAIN_DEFAULTS;

/** Integer flags and the setting each sets. */
const INTEGERS: [flag: string, key: keyof PretrainSettings, min: number][] = [
  ['vocab', 'vocab', 1],
  ['context', 'context', 2],
  ['steps', 'steps', 1],
  ['batch-tokens', 'batchTokens', 1],
  ['warmup', 'warmupSteps', 0],
  ['seed', 'seed', 0],
  ['heldout-every', 'heldoutEvery', 2],
];
const NUMBERS: [flag: string, key: keyof PretrainSettings][] = [
  ['lr', 'lr'],
  ['min-lr-ratio', 'minLrRatio'],
  ['weight-decay', 'weightDecay'],
];

export const pretrainCommand: Command = {
  name: 'pretrain',
  summary: 'pretrain a small Gemma-2 and its tokenizer on text files (a Hugging Face model folder)',
  usage: `usage: microsteer pretrain --corpus FILE [--corpus FILE ...] --out DIR [options]

Trains a byte-level BPE tokenizer on the corpus, then every weight of a Gemma-2 with AdamW (warm-up,
cosine decay, gradient clipping) through the engine's own gradient graphs, and writes config.json,
model.safetensors, tokenizer.json, tokenizer_config.json, generation_config.json and
pretraining.json (the measures) to DIR. Each corpus file is a source, named after the file, with
documents separated by blank lines; every --heldout-every-th document is held out, and the loss and
bits per character of each source's held-out text are reported. Checkpoints go to DIR/checkpoint
every --checkpoint-every steps and on Ctrl-C; --resume continues from there.

  --corpus FILE           a text file (repeatable)
  --out DIR               folder to write (must be empty unless --force or --resume)
${shapeUsage(d)}
  --vocab N               tokenizer size, special tokens included (default ${d.vocab})
  --context N             tokens per training window and the model's context (default ${d.context})
  --steps N               optimiser steps (default ${d.steps})
  --batch-tokens N        tokens per step, as rows of --context (default ${d.batchTokens})
  --lr X                  peak learning rate (default ${d.lr})
  --warmup N              linear warm-up steps (default ${d.warmupSteps})
  --min-lr-ratio X        end of the cosine, as a fraction of the peak (default ${d.minLrRatio})
  --weight-decay X        AdamW decoupled weight decay of the matrices (default ${d.weightDecay})
  --seed N                seed of the initial weights and the batches (default ${d.seed})
  --heldout-every N       hold out every Nth document of each source (default ${d.heldoutEvery})
  --dtype bf16|f32        dtype of the saved weights (default ${d.dtype})
  --eval-every N          held-out loss every N steps (default 250)
  --checkpoint-every N    checkpoint every N steps (default 250)
  --threads N             CPU threads (default: onnxruntime's)
  --resume                continue the run checkpointed in DIR (--steps may extend it)
  --force                 replace a model (or an unfinished run) in DIR
  --json                  print the final measures as JSON on stdout
  --device D              auto (default), cpu or cuda`,

  async run(argv) {
    const v = parseCommandArgs(argv, {
      corpus: { type: 'string', multiple: true },
      out: { type: 'string' },
      dtype: { type: 'string' },
      'eval-every': { type: 'string' },
      'checkpoint-every': { type: 'string' },
      threads: { type: 'string' },
      resume: { type: 'boolean' },
      force: { type: 'boolean' },
      json: { type: 'boolean' },
      device: { type: 'string' },
      ...SHAPE_OPTIONS,
      ...Object.fromEntries([...INTEGERS, ...NUMBERS].map(([flag]) => [flag, { type: 'string' as const }])),
    });
    const flags = v as Record<string, string | undefined>;
    const out = requireOption(v.out, '--out');
    const corpus = v.corpus ?? [];
    if (corpus.length === 0) throw new InputError('missing required option --corpus');
    if (v.resume && v.force) throw new InputError('give --resume or --force, not both');
    const settings: Partial<PretrainSettings> = parseShapeOptions(v);
    for (const [flag, key, min] of INTEGERS) if (flags[flag] !== undefined) (settings as Record<string, number>)[key] = parseInteger(flags[flag], `--${flag}`, min);
    for (const [flag, key] of NUMBERS) if (flags[flag] !== undefined) (settings as Record<string, number>)[key] = parseNumber(flags[flag], `--${flag}`);
    if (v.dtype !== undefined) {
      if (v.dtype !== 'bf16' && v.dtype !== 'f32') throw new InputError(`--dtype must be bf16 or f32, got "${v.dtype}"`);
      settings.dtype = v.dtype;
    }
    const every = (flag: string) => (flags[flag] === undefined ? undefined : parseInteger(flags[flag], `--${flag}`, 1));

    const controller = new AbortController();
    const onSigint = () => {
      if (controller.signal.aborted) process.exit(130);
      controller.abort();
      console.error('\nmicrosteer pretrain: stopping after this step and saving a checkpoint (Ctrl-C again to quit at once)');
    };
    process.on('SIGINT', onSigint);
    const bar = new ProgressBar(process.stderr, formatPretrainStep);
    try {
      const result = await pretrain({
        corpus,
        out,
        settings,
        resume: v.resume,
        force: v.force,
        evalEvery: every('eval-every'),
        checkpointEvery: every('checkpoint-every'),
        threads: every('threads'),
        device: parseDevice(v.device),
        signal: controller.signal,
        onProgress: (p) => report(bar, p),
      });
      bar.finish();
      if (result.interrupted) {
        console.error(`microsteer pretrain: stopped at step ${result.stepsDone}; continue with --resume (checkpoint in ${out}/checkpoint)`);
        process.exit(130);
      }
      if (v.json) console.log(JSON.stringify(result, null, 2));
      else {
        console.log(`wrote ${result.parameters} parameters (${result.settings.dtype}) to ${result.out}`);
        console.log(`${result.tokensSeen} tokens in ${result.trainingSeconds} s; final training loss ${result.finalTrainLoss.toFixed(4)}`);
        console.log(measureTable(result.train, result.heldout));
      }
    } finally {
      process.off('SIGINT', onSigint);
    }
  },
};

type StepReport = Extract<PretrainProgress, { kind: 'step' }> & { totalSteps: number };

function report(bar: ProgressBar<StepReport>, p: PretrainProgress): void {
  if (p.kind === 'step') bar.update({ ...p, totalSteps: p.steps });
  else if (p.kind === 'status') bar.note(`microsteer pretrain: ${p.message}`);
  else if (p.kind === 'checkpoint') bar.note(`checkpoint at step ${p.step}`);
  else bar.note(`held-out at step ${p.step}: ${p.heldout.map((m) => `${m.source} ${m.loss.toFixed(3)} nats/token ${m.bitsPerChar.toFixed(3)} bits/char`).join(', ')}`);
}

/** e.g. "step  120/2000 [#---...]   6%  loss 4.2141  lr 2.99e-3  2150 tokens/s  4m 10s left". */
function formatPretrainStep(p: StepReport): string {
  return [
    stepBar(p.step, p.totalSteps),
    `loss ${p.loss.toFixed(4)}`,
    `lr ${p.lr.toExponential(2)}`,
    `${Math.round(p.tokensPerSecond)} tokens/s`,
    `${duration(p.etaSeconds)} left`,
  ].join('  ');
}

function duration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s`;
  return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
}

function measureTable(train: SourceMeasure[], heldout: SourceMeasure[]): string {
  const rows = heldout.map((h, i) => `  ${h.source.padEnd(20)} ${train[i].loss.toFixed(4).padStart(10)} ${h.loss.toFixed(4).padStart(10)} ${h.bitsPerChar.toFixed(3).padStart(10)}`);
  return [`  ${'source'.padEnd(20)} ${'train nll'.padStart(10)} ${'held nll'.padStart(10)} ${'held bpc'.padStart(10)}`, ...rows].join('\n');
}
