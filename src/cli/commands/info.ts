/** `microsteer info`: what a model folder holds, or what is wrong with it. */
import type { Command } from '../command';
import { parseCommandArgs, requireOption } from '../args';
import { inspectModelFolder } from '../../engine/model/modelFolder';
import { formatModelSummaryTable } from '../../engine/model/summary';

export const infoCommand: Command = {
  name: 'info',
  summary: 'describe a Gemma-2 model folder (architecture, parameters, dtypes, size, hook layer)',
  usage: `usage: microsteer info --model DIR [--json]

Validates the folder (config.json, safetensors weights, tokenizer files) and prints its summary.
Exits with code 2 and says what is wrong when the folder is not usable.

  --model DIR   the model folder
  --json        print the summary as JSON`,

  async run(argv) {
    const values = parseCommandArgs(argv, { model: { type: 'string' }, json: { type: 'boolean' } });
    const summary = await inspectModelFolder(requireOption(values.model, '--model'));
    console.log(values.json ? JSON.stringify(summary, null, 2) : formatModelSummaryTable(summary));
  },
};
