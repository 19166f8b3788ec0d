/**
 * Steering vectors at rest: the mean-difference record (protocol.ts `MeanDifferenceRecord`, a JSON file
 * or a settings entry beside the planes) and GGUF control-vector files, read into one validated shape.
 * Vectors are stored as base64 of little-endian float32, as plane directions are.
 */
import { readBoundedFile } from '../limits';
import { InputError } from '../errors';
import { decodeControlVector, encodeControlVector } from '../gguf/controlVector';
import { GGUF_MAGIC } from '../gguf/ggufFile';
import type { ModelFolder } from '../model/types';
import { decodeFloat32Values, encodePlaneVector } from '../plane';
import type { MeanDifferenceRecord, ModelIdentity, VectorValues } from '../../protocol';

/** A record's vectors by decoder layer (ascending), with the record itself. */
export interface SteeringVectors {
  record: MeanDifferenceRecord;
  vectors: Map<number, Float32Array>;
}

/** Base64 of the little-endian float32 values. */
export function encodeVector(values: ArrayLike<number>): string {
  return encodePlaneVector(Float32Array.from(values));
}

/** Refuses vectors recorded for another model than `folder`'s. */
export function checkModelIdentity(from: ModelIdentity | undefined, folder: ModelFolder, what: string): void {
  const c = folder.config;
  if (from && (from.fingerprint !== folder.fingerprint || from.hiddenSize !== c.hiddenSize || from.numHiddenLayers !== c.numHiddenLayers)) {
    throw new InputError(
      `${what}: made on another model (hidden size ${from.hiddenSize}, ${from.numHiddenLayers} layers, fingerprint ${String(from.fingerprint).slice(0, 12)}) ` +
        `than ${folder.dir} (hidden size ${c.hiddenSize}, ${c.numHiddenLayers} layers, fingerprint ${folder.fingerprint.slice(0, 12)})`,
    );
  }
}

/** The vectors of `count` layers from one per layer or one for all, checked against the model's width. */
export function vectorsOf(values: readonly VectorValues[], count: number, hidden: number, what: string): Float32Array[] {
  if (values.length !== 1 && values.length !== count) throw new InputError(`${what}: ${values.length} vectors for ${count} layers (give one per layer, or one for all)`);
  const vectors = values.map((v, i) => decodeFloat32Values(v, what, `vector ${i}`));
  vectors.forEach((v, i) => {
    if (v.length !== hidden) throw new InputError(`${what} vector ${i}: ${v.length} values, expected the model's hidden size ${hidden}`);
  });
  return Array.from({ length: count }, (_, i) => vectors[values.length === 1 ? 0 : i]);
}

/** Validates an untrusted record; `source` names it in messages. With `model`, widths and layers must fit it. */
export function parseMeanDifference(json: unknown, source: string, model?: { hiddenSize: number; numHiddenLayers: number }): SteeringVectors {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new InputError(`${source}: a vector record must be a JSON object`);
  const r = json as Partial<Record<keyof MeanDifferenceRecord, unknown>>;
  if (r.kind !== 'meanDifference') throw new InputError(`${source}: "kind" is ${JSON.stringify(r.kind ?? null)}, expected "meanDifference"`);
  if (!Array.isArray(r.layers) || r.layers.length === 0 || !r.layers.every((l) => Number.isInteger(l) && (l as number) >= 0)) {
    throw new InputError(`${source}: "layers" must be a non-empty array of non-negative integers`);
  }
  const from = r.model as Partial<ModelIdentity> | undefined;
  if (from !== undefined && (typeof from !== 'object' || from === null || !Number.isInteger(from.hiddenSize) || !Number.isInteger(from.numHiddenLayers) || typeof from.fingerprint !== 'string')) {
    throw new InputError(`${source}: "model" must be {"hiddenSize", "numHiddenLayers", "fingerprint"}`);
  }
  const layers = r.layers as number[];
  if (layers.some((l, i) => i > 0 && l <= layers[i - 1])) throw new InputError(`${source}: "layers" must ascend without repeats`);
  if (!Array.isArray(r.vectors) || r.vectors.length !== layers.length) throw new InputError(`${source}: "vectors" must hold one vector per layer (${layers.length})`);
  const vectors = new Map(layers.map((layer, i) => [layer, decodeFloat32Values((r.vectors as unknown[])[i], source, `the vector of layer ${layer}`)]));
  const width = vectors.get(layers[0])!.length;
  for (const [layer, v] of vectors) {
    if (v.length !== (model?.hiddenSize ?? width)) throw new InputError(`${source}: the vector of layer ${layer} has ${v.length} values, expected ${model?.hiddenSize ?? width}`);
    if (model && layer >= model.numHiddenLayers) throw new InputError(`${source}: layer ${layer} is outside the model's ${model.numHiddenLayers} layers`);
  }
  return { record: json as MeanDifferenceRecord, vectors };
}

/** A record from a control vector's directions (no model identity, no settings: they are not in the file). */
export function recordOfControlVector(directions: ReadonlyMap<number, ArrayLike<number>>, file: string, modelHint: string | null): MeanDifferenceRecord {
  const layers = [...directions.keys()].sort((a, b) => a - b);
  return {
    kind: 'meanDifference',
    layers,
    vectors: layers.map((l) => encodeVector(directions.get(l)!)),
    imported: { file, modelHint },
    createdAt: new Date().toISOString(),
  };
}

/**
 * The record's vectors as a GGUF control vector, with the model hint "gemma2" (transformers' model type)
 * or the one it was imported with; layer 0 (which llama.cpp cannot steer) is left out and reported.
 */
export function controlVectorOfRecord(vectors: SteeringVectors): { bytes: Uint8Array; skippedLayers: number[] } {
  const modelHint = vectors.record.imported?.modelHint ?? 'gemma2';
  const kept = new Map([...vectors.vectors].filter(([layer]) => layer >= 1));
  const skippedLayers = [...vectors.vectors.keys()].filter((layer) => layer < 1);
  if (kept.size === 0) throw new InputError('the vectors are all at layer 0, which a GGUF control vector cannot hold (llama.cpp steers layers 1 and up)');
  return { bytes: encodeControlVector(kept, modelHint), skippedLayers };
}

/** Reads a vector file: a mean-difference record (JSON) or a GGUF control vector (by its magic bytes). */
export async function readVectorFile(file: string, model?: { hiddenSize: number; numHiddenLayers: number }): Promise<SteeringVectors> {
  let bytes: Buffer;
  try {
    bytes = await readBoundedFile(file);
  } catch (e) {
    if (e instanceof InputError) throw e;
    throw new InputError(`cannot read the vector file ${file}: ${(e as Error).message}`);
  }
  if (bytes.subarray(0, 4).toString('latin1') === GGUF_MAGIC) {
    const cv = decodeControlVector(bytes, file);
    return parseMeanDifference(recordOfControlVector(cv.directions, file, cv.modelHint), file, model);
  }
  let json: unknown;
  try {
    json = JSON.parse(bytes.toString('utf8'));
  } catch (e) {
    throw new InputError(`vector file ${file} is neither GGUF nor valid JSON: ${(e as Error).message}`);
  }
  return parseMeanDifference(json, file, model);
}
