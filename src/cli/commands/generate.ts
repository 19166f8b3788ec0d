/** `microsteer generate`: continue a prompt, optionally steered by a plane, streaming the text to stdout. */
import type { Command } from '../command';
import { parseCommandArgs, parseNumber, requireOption } from '../args';
import { withEngine } from '../engineSession';
import { SAMPLING_FLAGS, SAMPLING_USAGE, parseSampling, readPlaneSpec } from '../generationArgs';
import { InputError } from '../../engine/errors';
import type { GenerationRow } from '../../protocol';
import { parseDevice, parseWeights, weightsHelp } from './deviceOption';
import { VECTOR_FLAGS, VECTOR_USAGE, vectorRowParts } from './vectorOptions';

export const generateCommand: Command = {
  name: 'generate',
  summary: 'continue a prompt, optionally steered by a plane or a vector, streaming the text',
  usage: `usage: microsteer generate --model DIR [--plane FILE --alpha A] [--vector FILE --coefficient C] [--ablate FILE] --prompt "..." [options]

Streams the generated text to stdout as it comes. Ctrl-C stops it (exit code 130).

  --model DIR         the model folder
  --prompt TEXT       the text to continue
  --plane FILE        a plane file (from microsteer train)
  --alpha A           steering strength (required with --plane; 0 = unsteered)
${VECTOR_USAGE}
  --coefficient C     the vector's coefficient (required with --vector; 0 = unsteered)
${SAMPLING_USAGE}
  --device D          auto (default), cpu or cuda
${weightsHelp()}`,

  async run(argv) {
    const v = parseCommandArgs(argv, {
      model: { type: 'string' },
      prompt: { type: 'string' },
      plane: { type: 'string' },
      alpha: { type: 'string' },
      device: { type: 'string' },
      weights: { type: 'string' },
      coefficient: { type: 'string' },
      ...VECTOR_FLAGS,
      ...SAMPLING_FLAGS,
    });
    const modelPath = requireOption(v.model, '--model');
    const prompt = requireOption(v.prompt, '--prompt');
    const sampling = parseSampling(v);
    let row: GenerationRow = { alpha: 0 };
    if (v.plane !== undefined) {
      row = { plane: await readPlaneSpec(v.plane), alpha: parseNumber(requireOption(v.alpha, '--alpha'), '--alpha') };
    } else if (v.alpha !== undefined) {
      throw new InputError('--alpha needs --plane');
    }
    const coefficient = v.coefficient === undefined ? undefined : [parseNumber(v.coefficient, '--coefficient')];
    const [vectorParts] = await vectorRowParts(v, coefficient, '--coefficient');
    row = { ...row, ...vectorParts };

    await withEngine('generate', { modelPath, device: parseDevice(v.device), weights: parseWeights(v.weights) }, async (client, signal) => {
      const result = await client.generate({ prompt, rows: [row], sampling }, (_row, text) => process.stdout.write(text), signal);
      // The line ends before anything the session prints after the work (the weights picked, a fallback).
      if (process.stdout.isTTY && !result.rows[0].text.endsWith('\n')) process.stdout.write('\n');
    });
  },
};
