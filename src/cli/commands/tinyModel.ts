/** `microsteer tiny-model`: write a seeded random Gemma-2 in the Hugging Face layout (for tests and demos). */
import type { Command } from '../command';
import { parseCommandArgs, parseInteger, requireOption } from '../args';
import { InputError } from '../../engine/errors';
import { inspectModelFolder } from '../../engine/model/modelFolder';
import { formatModelSummary } from '../../engine/model/summary';
import { TINY_MODEL_DEFAULTS, writeTinyModel, type TinyModelDtype, type TinyModelShape } from '../../engine/model/tinyModel';
import { SHAPE_OPTIONS, parseShapeOptions, shapeUsage } from './shapeOptions';

const d = TINY_MODEL_DEFAULTS;

export const tinyModelCommand: Command = {
  name: 'tiny-model',
  summary: 'write a small seeded random Gemma-2 model folder (for tests and demos)',
  usage: `usage: microsteer tiny-model --out DIR [options]

Writes config.json, model.safetensors (or shards + index), generation_config.json and the Gemma
tokenizer files. The same options give byte-identical files.

  --out DIR               folder to write (created; must be empty unless --force)
  --seed N                random seed, 0..4294967295 (default ${d.seed})
  --dtype f32|bf16|f16    weight dtype (default ${d.dtype})
${shapeUsage(d)}
  --shards N              number of safetensors files (default ${d.shards})
  --force                 overwrite a model already in --out`,

  async run(argv) {
    const values: Record<string, string | boolean | undefined> = parseCommandArgs(argv, {
      out: { type: 'string' },
      seed: { type: 'string' },
      dtype: { type: 'string' },
      force: { type: 'boolean' },
      shards: { type: 'string' },
      ...SHAPE_OPTIONS,
    });
    const out = requireOption(values.out as string | undefined, '--out');
    const dtype = values.dtype as string | undefined;
    if (dtype !== undefined && !['f32', 'bf16', 'f16'].includes(dtype)) throw new InputError(`--dtype must be f32, bf16 or f16, got "${dtype}"`);
    const shape: Partial<TinyModelShape> = { ...parseShapeOptions(values), dtype: dtype as TinyModelDtype | undefined };
    if (values.seed !== undefined) shape.seed = parseInteger(values.seed as string, '--seed', 0, 0xffffffff);
    if (values.shards !== undefined) shape.shards = parseInteger(values.shards as string, '--shards', 1);
    await writeTinyModel({ ...shape, out, force: values.force as boolean | undefined });
    console.log(`wrote ${formatModelSummary(await inspectModelFolder(out))}\n  to ${out}`);
  },
};
