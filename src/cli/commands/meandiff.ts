/** `microsteer meandiff`: mean-difference steering vectors from two example sets, as a vector file and optionally a GGUF control vector. */
import type { Command } from '../command';
import { parseCommandArgs, requireOption } from '../args';
import { checkOutputFile, saveOutputFile } from '../outputFile';
import { InputError } from '../../engine/errors';
import { meanDifference } from '../../engine/methods/meanDifference';
import { norm } from '../../engine/methods/statistics';
import { controlVectorOfRecord, readVectorFile, type SteeringVectors } from '../../engine/methods/vectorFile';
import { parseDevice, parseWeights, weightsHelp } from './deviceOption';
import { withLocalModel } from './localModel';
import { readExampleFile } from '../../engine/exampleFile';
import { parseLayerList } from './vectorOptions';

export const meandiffCommand: Command = {
  name: 'meandiff',
  summary: 'mean-difference steering vectors from a source and a target example set (JSON and GGUF)',
  usage: `usage: microsteer meandiff --model DIR --source FILE --target FILE [options] --out vec.json [--gguf out.gguf]
       microsteer meandiff --import control.gguf --out vec.json [--gguf out.gguf]

Per decoder layer, delta = mean(target) - mean(source) of the residual stream after that layer (at each
example's last token, or its mean over the tokens after BOS), written as a vector file:
{"kind": "meanDifference", "layers", "vectors" (base64 float32 per layer), "model", "settings"}.
Steer with it: microsteer generate|compare --vector vec.json --coefficient(s) ...
--gguf also writes the vectors as a GGUF control vector for llama.cpp (--control-vector) and repeng:
direction.<layer> is added after that layer there too; layer 0 has no slot in that format and is left out.
--import reads such a GGUF file into a vector file.

  --model DIR         the model folder
  --source FILE       source examples: one per line, or a JSON array of strings
  --target FILE       target examples, the same way
  --layers L          layers, e.g. 13 or 10-16 or 3,5 (default: every layer)
  --position P        last (default): each example's last token; mean: the mean over its tokens after BOS
  --chat              wrap each example as a user turn of the model's chat template
  --out FILE          the vector file to write
  --gguf FILE         also write a GGUF control vector
  --force             replace existing --out and --gguf files
  --import FILE       convert a GGUF control vector instead (no model needed)
  --json              print a summary as JSON: {"out", "gguf", "layers": [{"layer", "norm"}], "skipped"}
  --device D          auto (default), cpu or cuda
${weightsHelp()}`,

  async run(argv) {
    const v = parseCommandArgs(argv, {
      model: { type: 'string' },
      source: { type: 'string' },
      target: { type: 'string' },
      layers: { type: 'string' },
      position: { type: 'string' },
      chat: { type: 'boolean' },
      out: { type: 'string' },
      gguf: { type: 'string' },
      force: { type: 'boolean' },
      import: { type: 'string' },
      json: { type: 'boolean' },
      device: { type: 'string' },
      weights: { type: 'string' },
    });
    const checks = { force: v.force, inputs: { '--source': v.source, '--target': v.target, '--import': v.import }, modelDir: v.model };
    const out = checkOutputFile(requireOption(v.out, '--out'), '--out', checks);
    const gguf = v.gguf === undefined ? undefined : checkOutputFile(v.gguf, '--gguf', checks);
    if (gguf?.file === out.file) throw new InputError('--out and --gguf name the same file: give two files');
    let vectors: SteeringVectors;
    if (v.import !== undefined) {
      const given = (['model', 'source', 'target', 'layers', 'position', 'chat'] as const).filter((flag) => v[flag] !== undefined);
      if (given.length > 0) throw new InputError(`--import converts a file: it takes no ${given.map((f) => `--${f}`).join(', ')}`);
      vectors = await readVectorFile(v.import);
    } else {
      const position = v.position ?? 'last';
      if (position !== 'last' && position !== 'mean') throw new InputError(`--position must be last or mean, got "${position}"`);
      const source = await readExampleFile(requireOption(v.source, '--source'));
      const target = await readExampleFile(requireOption(v.target, '--target'));
      const layers = v.layers === undefined ? undefined : parseLayerList(v.layers, '--layers');
      vectors = await withLocalModel(requireOption(v.model, '--model'), { device: parseDevice(v.device), weights: parseWeights(v.weights) }, (runner, tokenizer) =>
        meanDifference(runner, tokenizer, source, target, { layers, position, chatTemplate: v.chat }),
      );
    }

    saveOutputFile(out, `${JSON.stringify(vectors.record, null, 2)}\n`, 'vector file');
    let skipped: number[] = [];
    if (gguf) {
      const exported = controlVectorOfRecord(vectors);
      skipped = exported.skippedLayers;
      saveOutputFile(gguf, exported.bytes, 'GGUF control vector');
    }
    const layers = [...vectors.vectors].map(([layer, vector]) => ({ layer, norm: norm(vector) }));
    if (v.json) {
      console.log(JSON.stringify({ out: out.file, gguf: gguf?.file ?? null, layers, skipped }));
      return;
    }
    console.log(`wrote ${out.file}${gguf ? ` and ${gguf.file}` : ''}: ${layers.length} layer${layers.length === 1 ? '' : 's'}`);
    for (const { layer, norm: n } of layers) console.log(`  layer ${String(layer).padStart(3)}  |delta| ${n.toPrecision(5)}`);
    if (skipped.length > 0) console.log(`  (layer 0 is not in ${gguf?.file}: a GGUF control vector has no slot for it)`);
  },
};
