/**
 * Mean-difference steering vectors: from a source and a target set of example texts, per decoder layer,
 * `delta = mean(target) - mean(source)` of the residual stream after that layer (at each example's last
 * token, or its mean over the tokens after BOS; each example counts once). Steering adds
 * `coefficient * delta` after the chosen layers at every position of a row (residualEdits.ts).
 */
import { InputError } from '../errors';
import type { ResidualEdits } from '../gemma2/residualEdits';
import type { ModelFolder } from '../model/types';
import type { Tokenizer } from '../tokenizer';
import type { MeanDifferenceRecord, VectorSteering } from '../../protocol';
import { checkLayers, exampleStates, type ExamplePosition, type HiddenStateRunner } from './exampleStates';
import { difference, meanOf } from './statistics';
import { checkModelIdentity, encodeVector, vectorsOf, type SteeringVectors } from './vectorFile';

export interface MeanDifferenceOptions {
  /** Decoder layers (default: every layer). */
  layers?: readonly number[];
  /** Default `last`. */
  position?: ExamplePosition;
  chatTemplate?: boolean;
  signal?: AbortSignal;
}

/** delta per layer and the record that stores it, tagged with the runner's model. */
export async function meanDifference(
  runner: HiddenStateRunner,
  tokenizer: Tokenizer,
  source: readonly string[],
  target: readonly string[],
  options: MeanDifferenceOptions = {},
): Promise<SteeringVectors> {
  if (source.length === 0 || target.length === 0) throw new InputError('a mean difference needs at least one source and one target example');
  const c = runner.folder.config;
  const layers = [...(options.layers ?? Array.from({ length: c.numHiddenLayers }, (_, l) => l))].sort((a, b) => a - b);
  checkLayers(layers, c.numHiddenLayers, 'mean difference');
  const position = options.position ?? 'last';
  const read = (examples: readonly string[]) => exampleStates(runner, tokenizer, examples, { layers, position, chatTemplate: options.chatTemplate, signal: options.signal });
  const sourceStates = await read(source);
  const targetStates = await read(target);
  const vectors = new Map(layers.map((layer, j) => [layer, Float32Array.from(difference(meanOf(targetStates[j]), meanOf(sourceStates[j])))]));
  const record: MeanDifferenceRecord = {
    kind: 'meanDifference',
    layers,
    vectors: layers.map((layer) => encodeVector(vectors.get(layer)!)),
    model: { hiddenSize: c.hiddenSize, numHiddenLayers: c.numHiddenLayers, fingerprint: runner.folder.fingerprint },
    settings: { position, chatTemplate: options.chatTemplate ?? false, sourceExamples: source.length, targetExamples: target.length },
    createdAt: new Date().toISOString(),
  };
  return { record, vectors };
}

/**
 * The layer a stored set steers (or gives its direction) when none is chosen: its only layer, or else the
 * middle one of its layers (floor(layers / 2) for a record of every layer: the default layer of a plane).
 */
export function defaultVectorLayer(vectors: SteeringVectors): number {
  const layers = [...vectors.vectors.keys()];
  return layers[Math.floor(layers.length / 2)];
}

/** A generation row's vector steering from a stored set: its vectors at `layers` (default: defaultVectorLayer) times the coefficient. */
export function vectorSteering(vectors: SteeringVectors, coefficient: number, layers?: readonly number[]): VectorSteering {
  const chosen = layers ?? [defaultVectorLayer(vectors)];
  for (const layer of chosen) {
    if (!vectors.vectors.has(layer)) throw new InputError(`the vector file has no vector for layer ${layer} (it has layers ${[...vectors.vectors.keys()].join(', ')})`);
  }
  return {
    layers: [...chosen],
    values: chosen.map((layer) => encodeVector(vectors.vectors.get(layer)!)),
    coefficient,
    ...(vectors.record.model ? { model: vectors.record.model } : {}),
  };
}

/** What a row's vector steering adds: `coefficient * values[i]` after `layers[i]`, checked against the model. */
export function vectorEdits(spec: VectorSteering, folder: ModelFolder, what: string): NonNullable<ResidualEdits['add']> {
  if (typeof spec !== 'object' || spec === null) throw new InputError(`${what}: expected { layers, values, coefficient }`);
  const c = folder.config;
  if (!Array.isArray(spec.layers) || !Array.isArray(spec.values)) throw new InputError(`${what}: "layers" and "values" must be arrays`);
  checkLayers(spec.layers, c.numHiddenLayers, what);
  if (typeof spec.coefficient !== 'number' || !Number.isFinite(spec.coefficient)) throw new InputError(`${what}: the coefficient must be a finite number, got ${String(spec.coefficient)}`);
  checkModelIdentity(spec.model, folder, what);
  const vectors = vectorsOf(spec.values, spec.layers.length, c.hiddenSize, what);
  return spec.layers.map((layer, i) => ({ layer, vector: Float64Array.from(vectors[i], (x) => x * spec.coefficient) }));
}
