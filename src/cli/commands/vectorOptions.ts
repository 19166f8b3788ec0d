/**
 * The steering-vector options that `generate`, `compare` and `ablate` share: a vector file (a
 * mean-difference record from `microsteer meandiff`, or a GGUF control vector) added at chosen layers,
 * and a direction from such a file ablated at chosen layers.
 */
import { InputError } from '../../engine/errors';
import { ablationSteering } from '../../engine/methods/ablation';
import { vectorSteering } from '../../engine/methods/meanDifference';
import { readVectorFile, type SteeringVectors } from '../../engine/methods/vectorFile';
import type { AblationSteering, GenerationRow, VectorSteering } from '../../protocol';
import { parseInteger } from '../args';

export const VECTOR_FLAGS = {
  vector: { type: 'string' },
  'vector-layers': { type: 'string' },
  ablate: { type: 'string' },
  'ablate-layers': { type: 'string' },
  'ablate-from': { type: 'string' },
} as const;

export const VECTOR_USAGE = `  --vector FILE       a steering vector file (microsteer meandiff's JSON, or a GGUF control vector)
  --vector-layers L   layers whose vectors are added, e.g. 6 or 4-8 or 3,5 (default: the file's only
                      layer, or the middle one of its layers)
  --ablate FILE       a vector file whose direction (normalised) is removed from the residual stream
  --ablate-layers L   where: all (default) or layers as for --vector-layers
  --ablate-from N     the file's layer that gives the direction (default as for --vector-layers)`;

type VectorValues = { [K in keyof typeof VECTOR_FLAGS]?: string };

/** Layers written as 3 or 2-5 or 1,4,6-8. */
export function parseLayerList(text: string, flag: string): number[] {
  const layers = text.split(',').flatMap((part) => {
    const range = /^\s*(\d+)\s*-\s*(\d+)\s*$/.exec(part);
    if (!range) return [parseInteger(part.trim(), `${flag} entry`, 0)];
    const [from, to] = [Number(range[1]), Number(range[2])];
    if (to < from) throw new InputError(`${flag}: the range ${part.trim()} runs backwards`);
    return Array.from({ length: to - from + 1 }, (_, i) => from + i);
  });
  if (new Set(layers).size !== layers.length) throw new InputError(`${flag}: ${text} names a layer twice`);
  return layers;
}

/** The vector file of --vector and the layers to steer, without the coefficient (one per row). */
export async function readVectorOption(v: VectorValues): Promise<{ vectors: SteeringVectors; layers: number[] | undefined } | undefined> {
  if (v.vector === undefined) {
    if (v['vector-layers'] !== undefined) throw new InputError('--vector-layers needs --vector');
    return undefined;
  }
  const layers = v['vector-layers'] === undefined ? undefined : parseLayerList(v['vector-layers'], '--vector-layers');
  return { vectors: await readVectorFile(v.vector), layers };
}

/** A row's vector steering at one coefficient. */
export function steeringAt(option: { vectors: SteeringVectors; layers: number[] | undefined }, coefficient: number): VectorSteering {
  return vectorSteering(option.vectors, coefficient, option.layers);
}

/** The ablation of --ablate, --ablate-layers and --ablate-from. */
export async function readAblateOption(v: VectorValues): Promise<AblationSteering | undefined> {
  if (v.ablate === undefined) {
    if (v['ablate-layers'] !== undefined || v['ablate-from'] !== undefined) throw new InputError('--ablate-layers and --ablate-from need --ablate');
    return undefined;
  }
  const where = v['ablate-layers'];
  const layers = where === undefined || where === 'all' ? 'all' : parseLayerList(where, '--ablate-layers');
  const from = v['ablate-from'] === undefined ? undefined : parseInteger(v['ablate-from'], '--ablate-from', 0);
  return ablationSteering(await readVectorFile(v.ablate), layers, from);
}

/**
 * The vector and ablation parts of generation rows: with --vector, one per coefficient (each with the
 * ablation, if any); without, one row part with the ablation alone. `flag` names the coefficient option.
 */
export async function vectorRowParts(v: VectorValues, coefficients: number[] | undefined, flag: string): Promise<Pick<GenerationRow, 'vector' | 'ablate'>[]> {
  const vector = await readVectorOption(v);
  const ablate = await readAblateOption(v);
  const withAblation = ablate === undefined ? {} : { ablate };
  if (!vector) {
    if (coefficients !== undefined) throw new InputError(`${flag} needs --vector`);
    return [withAblation];
  }
  if (coefficients === undefined) throw new InputError(`--vector needs ${flag}`);
  return coefficients.map((c) => ({ vector: steeringAt(vector, c), ...withAblation }));
}
