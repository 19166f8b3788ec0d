/**
 * Control vectors in the GGUF layout that llama.cpp loads (`--control-vector`) and repeng writes
 * (`ControlVector.export_gguf`): `general.architecture = "controlvector"`, `controlvector.model_hint`
 * (the model type, e.g. "gemma2"), `controlvector.layer_count` (uint32: how many directions), and one
 * 1-D F32 tensor `direction.<layer>` [hidden] per layer.
 *
 * Layer numbers: llama.cpp adds `direction.<il>` to the output of its decoder layer `il` (0-based, after
 * the layer's residual add) and has no slot for layer 0 (its loader rejects `direction.0`); repeng keys a
 * direction by the 0-based layer whose output it steers. Both are this engine's layer numbers (a vector
 * added after decoder layer `il`), so `direction.<il>` maps to layer `il` unchanged, and a vector for
 * layer 0 cannot be written.
 */
import { InputError } from '../errors';
import { decodeGguf, encodeGguf, type GgufEntry } from './ggufFile';

export const CONTROL_VECTOR_ARCHITECTURE = 'controlvector';

export interface ControlVector {
  /** The model type the vector was made for, when the file says. */
  modelHint: string | null;
  /** By layer. */
  directions: Map<number, Float32Array>;
}

const DIRECTION = /^direction\.(\d+)$/;

/** The file's bytes. Layers must be 1 or more, all vectors of one width. */
export function encodeControlVector(directions: ReadonlyMap<number, ArrayLike<number>>, modelHint: string): Uint8Array {
  if (directions.size === 0) throw new InputError('a control vector needs at least one direction');
  const layers = [...directions.keys()].sort((a, b) => a - b);
  const width = directions.get(layers[0])!.length;
  for (const layer of layers) {
    if (!Number.isInteger(layer) || layer < 1) {
      throw new InputError(`a control vector has no direction for layer ${layer}: llama.cpp numbers directions from layer 1 (it never steers layer 0)`);
    }
    if (directions.get(layer)!.length !== width) throw new InputError(`the direction for layer ${layer} has ${directions.get(layer)!.length} values, the others ${width}`);
  }
  const metadata: GgufEntry[] = [
    { key: 'general.architecture', type: 'string', value: CONTROL_VECTOR_ARCHITECTURE },
    { key: 'controlvector.model_hint', type: 'string', value: modelHint },
    { key: 'controlvector.layer_count', type: 'uint32', value: layers.length },
  ];
  return encodeGguf(
    metadata,
    layers.map((layer) => ({ name: `direction.${layer}`, dims: [width], data: Float32Array.from(directions.get(layer)!) })),
  );
}

/** Reads a control-vector file; other tensors than `direction.<layer>` are refused, as llama.cpp does. */
export function decodeControlVector(bytes: Uint8Array, source: string): ControlVector {
  const file = decodeGguf(bytes, source);
  const architecture = file.metadata.get('general.architecture')?.value;
  if (architecture !== CONTROL_VECTOR_ARCHITECTURE) {
    throw new InputError(`${source}: general.architecture is ${JSON.stringify(architecture ?? null)}, expected "${CONTROL_VECTOR_ARCHITECTURE}" (is this a model rather than a control vector?)`);
  }
  const hint = file.metadata.get('controlvector.model_hint')?.value;
  const directions = new Map<number, Float32Array>();
  let width: number | undefined;
  for (const tensor of file.tensors) {
    const match = DIRECTION.exec(tensor.name);
    if (!match) throw new InputError(`${source}: tensor ${tensor.name} is not named direction.<layer>`);
    const layer = Number(match[1]);
    if (layer < 1) throw new InputError(`${source}: ${tensor.name}: directions start at layer 1`);
    if (tensor.dims.length !== 1) throw new InputError(`${source}: ${tensor.name} has ${tensor.dims.length} dimensions, expected 1`);
    width ??= tensor.data.length;
    if (tensor.data.length !== width) throw new InputError(`${source}: ${tensor.name} has ${tensor.data.length} values, the first direction ${width}`);
    if (directions.has(layer)) throw new InputError(`${source}: ${tensor.name} appears twice`);
    const bad = tensor.data.findIndex((x) => !Number.isFinite(x));
    if (bad >= 0) throw new InputError(`${source}: ${tensor.name}[${bad}] is not a finite number`);
    directions.set(layer, tensor.data);
  }
  if (directions.size === 0) throw new InputError(`${source}: the control vector has no direction tensors`);
  return { modelHint: typeof hint === 'string' ? hint : null, directions: new Map([...directions].sort(([a], [b]) => a - b)) };
}
