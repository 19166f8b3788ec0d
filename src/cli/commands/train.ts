/** `microsteer train`: train a steering plane on example texts and write it as a plane file. */
import type { Command } from '../command';
import { parseCommandArgs, parseInteger, parseNumber, requireOption } from '../args';
import { withEngine } from '../engineSession';
import { checkOutputFile, saveOutputFile } from '../outputFile';
import { ProgressBar, formatTrainProgress } from '../progressBar';
import { InputError } from '../../engine/errors';
import { readExampleFile } from '../../engine/exampleFile';
import { TRAIN_DEFAULTS, type MleMode, type TrainOptions } from '../../protocol';
import { parseDevice, parseWeights, weightsHelp } from './deviceOption';

const d = TRAIN_DEFAULTS;

export const trainCommand: Command = {
  name: 'train',
  summary: 'train a steering plane on example texts and write it as a plane file',
  usage: `usage: microsteer train --model DIR (--examples FILE | --text "..." [--text ...]) [options] --out plane.json

Learns a direction n and an offset b at one decoder layer so that the steered model assigns the
examples a high likelihood (DESIGN.md section 1), showing the progress on stderr. The plane file
holds {"layer", "n" (base64 float32), "b"} and the record of the run (model, settings, losses).
Ctrl-C cancels (exit code 130, no file written).

  --model DIR           the model folder
  --examples FILE       example texts: one per line (blank lines skipped), or a JSON array of strings
  --text TEXT           an example text (repeatable), instead of --examples
  --out FILE            the plane file to write (checked before training: not an input or a model file)
  --force               replace an existing --out file
  --layer N             hook layer (default floor(layers / 2))
  --steps N             optimiser steps (default ${d.steps})
  --lr X                Adam learning rate (default ${d.learningRate})
  --alpha X             steering strength while training (default ${d.alpha})
  --averaging           add the cap and theta terms: a general style (the default)
  --no-averaging        leave them out: a specific concept
  --lambda-mle X        weight of the likelihood term (default ${d.lambdaMle})
  --lambda-cap X        weight of the cap term (default ${d.lambdaCap})
  --lambda-theta X      weight of the theta term (default ${d.lambdaTheta})
  --mode M              sequence (default: NLL of every token) or notebook (the original's random cuts)
  --batch-size N        examples per step in sequence mode at most (default: all that --batch-tokens holds)
  --batch-tokens N      tokens per step in sequence mode at most, counted as examples x the longest one
                        (at least 2; default ${d.batchTokens}, or fewer where MICROSTEER_MAX_LOGITS / vocabulary is less)
  --seed N              seed of the initial direction and the minibatches (default ${d.seed})
  --device D            auto (default), cpu or cuda
${weightsHelp()}`,

  async run(argv) {
    const v = parseCommandArgs(argv, {
      model: { type: 'string' },
      examples: { type: 'string' },
      text: { type: 'string', multiple: true },
      out: { type: 'string' },
      force: { type: 'boolean' },
      layer: { type: 'string' },
      steps: { type: 'string' },
      lr: { type: 'string' },
      alpha: { type: 'string' },
      averaging: { type: 'boolean' },
      'no-averaging': { type: 'boolean' },
      'lambda-mle': { type: 'string' },
      'lambda-cap': { type: 'string' },
      'lambda-theta': { type: 'string' },
      mode: { type: 'string' },
      'batch-size': { type: 'string' },
      'batch-tokens': { type: 'string' },
      seed: { type: 'string' },
      device: { type: 'string' },
      weights: { type: 'string' },
    });
    const modelPath = requireOption(v.model, '--model');
    const out = checkOutputFile(requireOption(v.out, '--out'), '--out', { force: v.force, inputs: { '--examples': v.examples }, modelDir: modelPath });
    if (v.averaging && v['no-averaging']) throw new InputError('give --averaging or --no-averaging, not both');
    const mode = v.mode;
    if (mode !== undefined && mode !== 'sequence' && mode !== 'notebook') throw new InputError(`--mode must be sequence or notebook, got "${mode}"`);
    const flags: Record<string, unknown> = v;
    const given = (flag: string) => flags[flag] as string | undefined;
    const number = (flag: string) => (given(flag) === undefined ? undefined : parseNumber(given(flag) as string, `--${flag}`));
    const integer = (flag: string, min: number, max?: number) =>
      given(flag) === undefined ? undefined : parseInteger(given(flag) as string, `--${flag}`, min, max);
    const options: TrainOptions = {
      layer: integer('layer', 0),
      steps: integer('steps', 1),
      learningRate: number('lr'),
      alpha: number('alpha'),
      useAveraging: v.averaging ? true : v['no-averaging'] ? false : undefined,
      lambdaMle: number('lambda-mle'),
      lambdaCap: number('lambda-cap'),
      lambdaTheta: number('lambda-theta'),
      mleMode: mode as MleMode | undefined,
      batchSize: integer('batch-size', 1),
      batchTokens: integer('batch-tokens', 2),
      seed: integer('seed', 0, 0xffffffff),
    };
    const examples = await readExamples(v.examples, v.text);

    const record = await withEngine('train', { modelPath, device: parseDevice(v.device), weights: parseWeights(v.weights) }, async (client, signal) => {
      const bar = new ProgressBar(process.stderr, formatTrainProgress);
      try {
        return await client.train({ examples, options }, (p) => bar.update(p), signal);
      } finally {
        bar.finish();
      }
    });
    saveOutputFile(out, `${JSON.stringify(record, null, 2)}\n`, 'plane');
    console.log(
      `wrote ${out.file}: layer ${record.layer}, b ${record.b.toFixed(4)}, loss ${record.initialLoss.toPrecision(5)} -> ${record.finalLoss.toPrecision(5)} ` +
        `over ${record.training.steps} steps on ${examples.length} example${examples.length === 1 ? '' : 's'}`,
    );
  },
};

/** The example texts of --examples FILE (lines, or a JSON array of strings) or of the --text flags. */
export async function readExamples(file: string | undefined, texts: string[] | undefined): Promise<string[]> {
  if (file !== undefined && texts !== undefined) throw new InputError('give --examples FILE or --text, not both');
  if (texts !== undefined) return texts;
  if (file === undefined) throw new InputError('no examples: give --examples FILE or one or more --text "..."');
  return readExampleFile(file);
}
