/**
 * Plane records as the extension keeps them: the `microSteer.planes` setting (name -> PlaneRecord) and
 * plane files. Settings files are untrusted input, so every entry is validated here; one bad entry is
 * reported by name and skipped, it never hides the good ones. No vscode import: this is unit-tested.
 */
import { InputError } from '../engine/errors';
import { encodePlaneVector, parsePlane } from '../engine/plane';
import type { ModelIdentity, ModelSummary, PlaneRecord, PlaneSpec } from '../protocol';

/** An entry of the planes setting that cannot be used, and why. */
export interface RejectedPlane {
  name: string;
  reason: string;
}

export interface PlaneTable {
  planes: Map<string, PlaneRecord>;
  rejected: RejectedPlane[];
}

/** Validates an untrusted plane record; `source` names where it came from (a settings entry, a file). */
export function parsePlaneRecord(json: unknown, source: string): PlaneRecord {
  return { ...parseSteeringPart(json, source), ...parseTrainingPart(json, source) };
}

/** What steers, and the model it belongs to: the part of a record that the settings entry always holds. */
export function parseSteeringPart(json: unknown, source: string): Pick<PlaneRecord, 'layer' | 'n' | 'b' | 'model'> {
  if (!isObject(json)) throw new InputError(`${source}: a plane must be a JSON object`);
  const model = parseModelIdentity(json.model, source);
  const plane = parsePlane(json, source, model);
  return { layer: plane.layer, n: typeof json.n === 'string' ? json.n : encodePlaneVector(plane.n), b: plane.b, model };
}

/** How the plane was trained: the part of a record that may live in a record file. */
export function parseTrainingPart(json: unknown, source: string): Pick<PlaneRecord, 'training' | 'initialLoss' | 'finalLoss' | 'lossHistory' | 'createdAt'> {
  if (!isObject(json)) throw new InputError(`${source}: a plane must be a JSON object`);
  const training = parseTraining(json.training, source);
  const lossHistory = json.lossHistory;
  if (!Array.isArray(lossHistory) || !lossHistory.every(isFiniteNumber)) {
    throw new InputError(`${source}: "lossHistory" must be an array of finite numbers`);
  }
  const createdAt = json.createdAt;
  if (typeof createdAt !== 'string' || Number.isNaN(Date.parse(createdAt))) throw new InputError(`${source}: "createdAt" must be a date string`);
  return {
    training,
    initialLoss: finite(json.initialLoss, source, 'initialLoss'),
    finalLoss: finite(json.finalLoss, source, 'finalLoss'),
    lossHistory: lossHistory as number[],
    createdAt,
  };
}

/** Reads one settings entry into a validated record; throws InputError naming the plane otherwise. */
export type EntryParser = (entry: unknown, name: string) => PlaneRecord;

const inlineEntry: EntryParser = (entry, name) => parsePlaneRecord(entry, `plane "${name}"`);

/**
 * Reads the planes setting: the valid records by name, and every other entry with its reason. `parse`
 * reads one entry (by default the whole record inline; planeLayout's reads record files too).
 */
export function readPlaneTable(value: unknown, parse: EntryParser = inlineEntry): PlaneTable {
  const table: PlaneTable = { planes: new Map(), rejected: [] };
  if (value === undefined || value === null) return table;
  if (!isObject(value)) {
    table.rejected.push({ name: '(all)', reason: 'microSteer.planes must be an object of name -> plane record' });
    return table;
  }
  for (const [name, entry] of Object.entries(value)) {
    try {
      table.planes.set(name, parse(entry, name));
    } catch (e) {
      table.rejected.push({ name, reason: (e as Error).message });
    }
  }
  return table;
}

/**
 * A name -> record setting (planes, vectors) with one entry set (or removed, for `record` undefined); every
 * other entry is kept exactly as it was, malformed ones included: a write must not touch what it does not own.
 */
export function withPlane(table: unknown, name: string, record: object | undefined): Record<string, unknown> {
  if (isReservedName(name)) throw new InputError(reservedNameMessage(name));
  const next: Record<string, unknown> = isObject(table) ? { ...table } : {};
  if (record === undefined) delete next[name];
  else next[name] = record;
  return next;
}

/** Refuses a plane trained on a model other than `model`, naming both. */
export function checkPlaneModel(name: string, record: PlaneRecord, model: ModelSummary): void {
  const from = record.model;
  if (from.fingerprint === model.fingerprint && from.hiddenSize === model.hiddenSize && from.numHiddenLayers === model.numHiddenLayers) return;
  throw new InputError(
    `plane "${name}" was trained on another model (${describeModel(from)}) than the loaded one ` +
      `(${describeModel(model)}, ${model.dir}): train it again on this model, or select the model it came from`,
  );
}

/** What the engine needs to steer with a record. */
export function planeSpec(record: PlaneRecord): PlaneSpec {
  return { layer: record.layer, n: record.n, b: record.b, model: record.model };
}

/** Why `name` cannot name a new plane, or undefined when it can; a clash is reported separately (it may be confirmed). */
export function planeNameProblem(name: string): string | undefined {
  if (name.trim() === '') return 'A plane needs a name.';
  if (name !== name.trim()) return 'The name must not start or end with spaces.';
  if (name.length > 80) return 'Keep the name under 80 characters.';
  if (isReservedName(name)) return reservedNameMessage(name);
  return undefined;
}

/**
 * Names that every JavaScript object already has (__proto__, constructor, toString, ...): as a key of a
 * settings object such a name is dropped or replaces the object's prototype, so a plane or vector cannot have it.
 */
export function isReservedName(name: string): boolean {
  return name in Object.prototype;
}

function reservedNameMessage(name: string): string {
  return `"${name}" is a name every settings object already has; choose another name.`;
}

/** A default name: the first words of the first example and the local date, e.g. "shall-i-compare-thee 2025-01-31". */
export function defaultPlaneName(firstExample: string, date: Date): string {
  const words = firstExample.toLowerCase().match(/[\p{L}\p{N}']+/gu) ?? [];
  const stem = words.slice(0, 4).join('-').replace(/'/g, '').slice(0, 40) || 'plane';
  const day = [date.getFullYear(), date.getMonth() + 1, date.getDate()].map((x) => String(x).padStart(2, '0')).join('-');
  return `${stem} ${day}`;
}

function describeModel(m: ModelIdentity): string {
  return `hidden size ${m.hiddenSize}, ${m.numHiddenLayers} layers, fingerprint ${String(m.fingerprint).slice(0, 12)}`;
}

function parseModelIdentity(value: unknown, source: string): ModelIdentity {
  if (!isObject(value)) throw new InputError(`${source}: "model" must be an object naming the model it was trained on`);
  const { hiddenSize, numHiddenLayers, fingerprint } = value;
  if (!isPositiveInteger(hiddenSize)) throw new InputError(`${source}: "model.hiddenSize" must be a positive integer`);
  if (!isPositiveInteger(numHiddenLayers)) throw new InputError(`${source}: "model.numHiddenLayers" must be a positive integer`);
  if (typeof fingerprint !== 'string' || fingerprint === '') throw new InputError(`${source}: "model.fingerprint" must be a non-empty string`);
  return { hiddenSize, numHiddenLayers, fingerprint };
}

const TRAINING_NUMBERS = ['layer', 'steps', 'learningRate', 'alpha', 'lambdaMle', 'lambdaCap', 'lambdaTheta', 'batchSize', 'seed', 'examples'] as const;

function parseTraining(value: unknown, source: string): PlaneRecord['training'] {
  if (!isObject(value)) throw new InputError(`${source}: "training" must be an object of training settings`);
  for (const key of TRAINING_NUMBERS) finite(value[key], source, `training.${key}`);
  // Records made before the token budget existed lack it.
  if (value.batchTokens !== undefined) finite(value.batchTokens, source, 'training.batchTokens');
  if (typeof value.useAveraging !== 'boolean') throw new InputError(`${source}: "training.useAveraging" must be true or false`);
  if (value.mleMode !== 'sequence' && value.mleMode !== 'notebook') throw new InputError(`${source}: "training.mleMode" must be "sequence" or "notebook"`);
  return value as PlaneRecord['training'];
}

function finite(value: unknown, source: string, key: string): number {
  if (!isFiniteNumber(value)) throw new InputError(`${source}: "${key}" must be a finite number`);
  return value;
}

export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isFiniteNumber(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value);
}

function isPositiveInteger(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value > 0;
}
