/**
 * Mean-difference vectors as the extension keeps them: the `microSteer.vectors` setting (name ->
 * MeanDifferenceRecord), beside the planes. Every entry is validated on read (the engine's record
 * parser); one bad entry is reported by name and skipped. A vector is checked against the loaded model
 * when it is used. No vscode import: this is unit-tested.
 */
import { InputError } from '../engine/errors';
import { parseMeanDifference, type SteeringVectors } from '../engine/methods/vectorFile';
import type { ModelSummary } from '../protocol';
import { isObject, type RejectedPlane } from './planeRecords';

export interface VectorTable {
  vectors: Map<string, SteeringVectors>;
  rejected: RejectedPlane[];
}

/** Reads the vectors setting: the valid records by name, and every other entry with its reason. */
export function readVectorTable(value: unknown): VectorTable {
  const table: VectorTable = { vectors: new Map(), rejected: [] };
  if (value === undefined || value === null) return table;
  if (!isObject(value)) {
    table.rejected.push({ name: '(all)', reason: 'microSteer.vectors must be an object of name -> vector record' });
    return table;
  }
  for (const [name, entry] of Object.entries(value)) {
    try {
      table.vectors.set(name, parseMeanDifference(entry, `vector "${name}"`));
    } catch (e) {
      table.rejected.push({ name, reason: (e as Error).message });
    }
  }
  return table;
}

/**
 * Refuses a vector made on another model than `model`. An imported control vector names no model: its
 * width and layers must fit the loaded one.
 */
export function checkVectorModel(name: string, vectors: SteeringVectors, model: ModelSummary): void {
  const from = vectors.record.model;
  if (from) {
    if (from.fingerprint === model.fingerprint && from.hiddenSize === model.hiddenSize && from.numHiddenLayers === model.numHiddenLayers) return;
    throw new InputError(
      `vector "${name}" was computed on another model (hidden size ${from.hiddenSize}, ${from.numHiddenLayers} layers, fingerprint ${String(from.fingerprint).slice(0, 12)}) ` +
        `than the loaded one (hidden size ${model.hiddenSize}, ${model.numHiddenLayers} layers, ${model.dir}): compute it again on this model`,
    );
  }
  parseMeanDifference(vectors.record, `vector "${name}" (imported, checked against the loaded model)`, model);
}
