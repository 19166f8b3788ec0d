/** `microsteer layers`: per-layer diagnostics of two contrastive example sets, and the layer they suggest for steering. */
import type { Command } from '../command';
import { parseCommandArgs, requireOption } from '../args';
import { InputError } from '../../engine/errors';
import { layerDiagnostics, type LayerDiagnostics } from '../../engine/methods/layerDiagnostics';
import { parseDevice, parseWeights, weightsHelp } from './deviceOption';
import { withLocalModel } from './localModel';
import { readExampleFile } from '../../engine/exampleFile';
import { parseLayerList } from './vectorOptions';

export const layersCommand: Command = {
  name: 'layers',
  summary: 'per-layer diagnostics of two contrastive example sets and a suggested steering layer',
  usage: `usage: microsteer layers --model DIR --a FILE --b FILE [options]

Per decoder layer, over the residual stream after it (one vector per example): the cosine similarity of
the two sets' mean vectors, the mean and max of each set's per-feature variance, and the normalised gap
|mean(B) - mean(A)|^2 / sum over features of (var A + var B) / 2. The suggested layer has the largest
gap in the middle half of the layers. Each set needs at least 2 examples.

  --model DIR         the model folder
  --a FILE            examples of set A: one per line, or a JSON array of strings
  --b FILE            examples of set B
  --layers L          layers, e.g. 10-16 or 3,5 (default: every layer)
  --position P        last (default): each example's last token; mean: the mean over its tokens after BOS
  --chat              wrap each example as a user turn of the model's chat template
  --json              print the diagnostics as JSON: {"layers": [{"layer", "meanCosine", "varianceA":
                      {"mean", "max"}, "varianceB", "normalisedGap"}], "suggestedLayer", "rule", ...}
  --device D          auto (default), cpu or cuda
${weightsHelp()}`,

  async run(argv) {
    const v = parseCommandArgs(argv, {
      model: { type: 'string' },
      a: { type: 'string' },
      b: { type: 'string' },
      layers: { type: 'string' },
      position: { type: 'string' },
      chat: { type: 'boolean' },
      json: { type: 'boolean' },
      device: { type: 'string' },
      weights: { type: 'string' },
    });
    const position = v.position ?? 'last';
    if (position !== 'last' && position !== 'mean') throw new InputError(`--position must be last or mean, got "${position}"`);
    const a = await readExampleFile(requireOption(v.a, '--a'));
    const b = await readExampleFile(requireOption(v.b, '--b'));
    const layers = v.layers === undefined ? undefined : parseLayerList(v.layers, '--layers');
    const result = await withLocalModel(requireOption(v.model, '--model'), { device: parseDevice(v.device), weights: parseWeights(v.weights) }, (runner, tokenizer) =>
      layerDiagnostics(runner, tokenizer, a, b, { layers, position, chatTemplate: v.chat }),
    );
    console.log(v.json ? JSON.stringify(result, null, 2) : formatDiagnostics(result));
  },
};

const BAR_WIDTH = 24;

/** A table with a bar of each layer's gap (relative to the largest), and the suggestion under it. */
export function formatDiagnostics(result: LayerDiagnostics): string {
  const finite = result.layers.map((d) => d.normalisedGap).filter(Number.isFinite);
  const largest = Math.max(0, ...finite);
  const number = (x: number) => (Number.isFinite(x) ? x.toPrecision(4) : String(x));
  const header = ['layer', 'cos(means)', 'var A mean', 'var A max', 'var B mean', 'var B max', 'gap'];
  const rows = result.layers.map((d) => [
    String(d.layer),
    number(d.meanCosine),
    number(d.varianceA.mean),
    number(d.varianceA.max),
    number(d.varianceB.mean),
    number(d.varianceB.max),
    number(d.normalisedGap),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padStart(widths[i])).join('  ');
  const bar = (gap: number) => '#'.repeat(largest > 0 ? Math.round((Math.min(gap, largest) / largest) * BAR_WIDTH) : 0);
  return [
    line(header),
    ...result.layers.map((d, i) => `${line(rows[i])}  ${bar(d.normalisedGap)}${d.layer === result.suggestedLayer ? '  <- suggested' : ''}`),
    '',
    `suggested steering layer: ${result.suggestedLayer} (${result.rule})`,
    `${result.examplesA} examples in A, ${result.examplesB} in B, at the ${result.position === 'last' ? 'last token' : 'mean over tokens after BOS'}`,
  ].join('\n');
}
