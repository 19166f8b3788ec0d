/**
 * The steering plane: a direction `n` (model width) and an offset `b`, applied at decoder layer `layer`.
 * File format (the CLI contract other tools read): JSON `{"layer": int, "n": <base64 of little-endian float32 | number[]>, "b": number}`;
 * other keys are allowed and kept by whoever writes them.
 */
import { InputError } from './errors';
import { readBoundedFile } from './limits';
import { checkOffset } from './gemma2/batchRows';
import { STEERING_LIMITS } from '../protocol';

export interface Plane {
  layer: number;
  n: Float32Array;
  b: number;
}

/** Base64 of the little-endian float32 bytes of `n`. */
export function encodePlaneVector(n: Float32Array): string {
  const bytes = Buffer.alloc(n.length * 4);
  n.forEach((x, i) => bytes.writeFloatLE(x, i * 4));
  return bytes.toString('base64');
}

/**
 * Float32 values stored as base64 of little-endian float32 or as an array of numbers (planes' `n`,
 * steering vectors): every entry finite, at least one. Errors name `source` and the field `name`.
 */
export function decodeFloat32Values(value: unknown, source: string, name: string): Float32Array {
  let values: Float32Array;
  if (Array.isArray(value)) {
    values = Float32Array.from(value, (x, i) => {
      if (typeof x !== 'number' || !Number.isFinite(x)) throw new InputError(`${source}: ${name}[${i}] is not a finite number`);
      return x;
    });
  } else {
    if (typeof value !== 'string') throw new InputError(`${source}: "${name}" must be base64 float32 or an array of numbers`);
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(value)) throw new InputError(`${source}: "${name}" is not valid base64`);
    const bytes = Buffer.from(value, 'base64');
    if (bytes.length % 4 !== 0) throw new InputError(`${source}: "${name}" decodes to ${bytes.length} bytes, not a whole number of float32s`);
    values = new Float32Array(bytes.length / 4);
    for (let i = 0; i < values.length; i++) {
      values[i] = bytes.readFloatLE(i * 4);
      if (!Number.isFinite(values[i])) throw new InputError(`${source}: ${name}[${i}] is not a finite number`);
    }
  }
  if (values.length === 0) throw new InputError(`${source}: "${name}" is empty`);
  return values;
}

/**
 * Validates an untrusted plane record. With `model` given, the width and layer must fit that model.
 * `source` names where the record came from (a file, a settings key) in error messages.
 */
export function parsePlane(json: unknown, source: string, model?: { hiddenSize: number; numHiddenLayers: number }): Plane {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new InputError(`${source}: a plane must be a JSON object`);
  const record = json as Record<string, unknown>;
  const { layer, b } = record;
  if (typeof layer !== 'number' || !Number.isInteger(layer) || layer < 0) {
    throw new InputError(`${source}: "layer" must be a non-negative integer`);
  }
  if (typeof b !== 'number' || !Number.isFinite(b)) throw new InputError(`${source}: "b" must be a finite number`);
  checkOffset(b, `${source}: "b"`);
  const n = decodeFloat32Values(record.n, source, 'n');
  let squares = 0;
  for (const x of n) squares += x * x;
  const norm = Math.sqrt(squares);
  if (!(Math.abs(norm - 1) <= STEERING_LIMITS.unitNormTolerance)) {
    throw new InputError(`${source}: the direction n must have length 1 (within ${STEERING_LIMITS.unitNormTolerance}), got |n| = ${norm.toPrecision(6)}`);
  }
  if (model) {
    if (n.length !== model.hiddenSize) {
      throw new InputError(`${source}: plane width ${n.length} does not match the model's hidden size ${model.hiddenSize}`);
    }
    if (layer >= model.numHiddenLayers) {
      throw new InputError(`${source}: plane layer ${layer} is outside the model's ${model.numHiddenLayers} layers`);
    }
  }
  return { layer, n, b };
}

/** Reads and validates a plane file (JSON) for a model. */
export async function readPlaneFile(file: string, model?: { hiddenSize: number; numHiddenLayers: number }): Promise<Plane> {
  let text: string;
  try {
    text = (await readBoundedFile(file)).toString('utf8');
  } catch (e) {
    if (e instanceof InputError) throw e;
    throw new InputError(`cannot read plane file ${file}: ${(e as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new InputError(`plane file ${file} is not valid JSON: ${(e as Error).message}`);
  }
  return parsePlane(json, file, model);
}
