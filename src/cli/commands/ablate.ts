/** `microsteer ablate`: one prompt continued with and without a direction removed from the residual stream, in one batched run. */
import type { Command } from '../command';
import { parseCommandArgs, parseInteger, requireOption } from '../args';
import { withEngine } from '../engineSession';
import { SAMPLING_FLAGS, SAMPLING_USAGE, parseSampling } from '../generationArgs';
import { ablationSteering } from '../../engine/methods/ablation';
import { readVectorFile } from '../../engine/methods/vectorFile';
import { formatComparison } from './compare';
import { parseDevice, parseWeights, weightsHelp } from './deviceOption';
import { parseLayerList } from './vectorOptions';

export const ablateCommand: Command = {
  name: 'ablate',
  summary: 'continue a prompt with and without a direction ablated from the residual stream, side by side',
  usage: `usage: microsteer ablate --model DIR --vector FILE [--from N] [--layers all|L] --prompt "..." [options]

Takes a unit direction r from a vector file (the mean difference at one layer, normalised) and removes
it, x <- x - dot(x, r) r, from the residual stream after the chosen layers at every position; generates
the prompt without and with that ablation as two rows of one batched run (the same seed for both).
(generate and compare take --ablate FILE too, alone or with a plane or a vector.)

  --model DIR         the model folder
  --vector FILE       a vector file (microsteer meandiff's JSON, or a GGUF control vector)
  --from N            the file's layer that gives the direction (default: its only layer, or the
                      middle one of its layers)
  --layers L          where to ablate: all (default), or layers such as 4-8 or 3,5
  --prompt TEXT       the text to continue
  --json              print the result as JSON: {"rows": [{"text", "tokens", "stopReason"}]} (unablated first)
${SAMPLING_USAGE}
  --device D          auto (default), cpu or cuda
${weightsHelp()}`,

  async run(argv) {
    const v = parseCommandArgs(argv, {
      model: { type: 'string' },
      vector: { type: 'string' },
      from: { type: 'string' },
      layers: { type: 'string' },
      prompt: { type: 'string' },
      json: { type: 'boolean' },
      device: { type: 'string' },
      weights: { type: 'string' },
      ...SAMPLING_FLAGS,
    });
    const modelPath = requireOption(v.model, '--model');
    const vectors = await readVectorFile(requireOption(v.vector, '--vector'));
    const layers = v.layers === undefined || v.layers === 'all' ? 'all' : parseLayerList(v.layers, '--layers');
    const ablate = ablationSteering(vectors, layers, v.from === undefined ? undefined : parseInteger(v.from, '--from', 0));
    const prompt = requireOption(v.prompt, '--prompt');
    const sampling = parseSampling(v);

    const result = await withEngine('ablate', { modelPath, device: parseDevice(v.device), weights: parseWeights(v.weights) }, (client, signal) =>
      client.generate({ prompt, rows: [{ alpha: 0 }, { alpha: 0, ablate }], sampling }, undefined, signal),
    );
    const where = layers === 'all' ? 'every layer' : `layers ${layers.join(', ')}`;
    console.log(v.json ? JSON.stringify(result, null, 2) : formatComparison(['unablated', `ablated after ${where}`], result.rows, process.stdout.columns));
  },
};
