/**
 * Directional ablation: a unit direction r (a mean difference at one layer, normalised) removed from the
 * residual stream, x <- x - dot(x, r) r, after every decoder layer or a chosen set (residualEdits.ts), at
 * every position of a row.
 */
import { InputError } from '../errors';
import type { ResidualEdits } from '../gemma2/residualEdits';
import type { ModelFolder } from '../model/types';
import type { AblationSteering } from '../../protocol';
import { checkLayers } from './exampleStates';
import { defaultVectorLayer } from './meanDifference';
import { norm } from './statistics';
import { decodeFloat32Values } from '../plane';
import { checkModelIdentity, encodeVector, type SteeringVectors } from './vectorFile';

/** v / |v|, refusing a zero vector. */
export function unitDirection(v: ArrayLike<number>, what: string): Float64Array {
  const length = norm(v);
  if (!(length > 0)) throw new InputError(`${what} is the zero vector: it has no direction to ablate`);
  return Float64Array.from(v, (x) => x / length);
}

/** A generation row's ablation of the stored vector at `fromLayer` (default: defaultVectorLayer), after `layers`. */
export function ablationSteering(vectors: SteeringVectors, layers: AblationSteering['layers'], fromLayer?: number): AblationSteering {
  const layer = fromLayer ?? defaultVectorLayer(vectors);
  const v = vectors.vectors.get(layer);
  if (!v) throw new InputError(`the vector file has no vector for layer ${layer} (it has layers ${[...vectors.vectors.keys()].join(', ')})`);
  return {
    direction: encodeVector(unitDirection(v, `the vector of layer ${layer}`)),
    layers: layers === 'all' ? 'all' : [...layers],
    ...(vectors.record.model ? { model: vectors.record.model } : {}),
  };
}

/** What a row's ablation removes: the normalised direction after each of its layers, checked against the model. */
export function ablationEdits(spec: AblationSteering, folder: ModelFolder, what: string): NonNullable<ResidualEdits['ablate']> {
  if (typeof spec !== 'object' || spec === null) throw new InputError(`${what}: expected { direction, layers }`);
  const c = folder.config;
  const layers = spec.layers === 'all' ? Array.from({ length: c.numHiddenLayers }, (_, l) => l) : spec.layers;
  if (!Array.isArray(layers)) throw new InputError(`${what}: "layers" must be "all" or an array of layers`);
  checkLayers(layers, c.numHiddenLayers, what);
  checkModelIdentity(spec.model, folder, what);
  const v = decodeFloat32Values(spec.direction, what, 'direction');
  if (v.length !== c.hiddenSize) throw new InputError(`${what} direction: ${v.length} values, expected the model's hidden size ${c.hiddenSize}`);
  const direction = unitDirection(v, `${what} direction`);
  return layers.map((layer) => ({ layer, direction }));
}
