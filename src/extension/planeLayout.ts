/**
 * How a plane is laid out in the settings. The `microSteer.planes` entry keeps what steers (layer, n, b)
 * and the model it belongs to; the training record (settings, loss history, losses, date) lives in a
 * file of its own beside the settings, named by the entry's `record`, because a loss history of a few
 * hundred steps made a settings file of tens of kilobytes. Entries without `record` are the older
 * layout (the whole record inline) and are still read; a plane moves to the new layout when the
 * extension next writes it. No vscode import: this is unit-tested.
 */
import { InputError } from '../engine/errors';
import type { PlaneRecord } from '../protocol';
import { isObject, parsePlaneRecord, parseSteeringPart, parseTrainingPart } from './planeRecords';

/** The fields of a PlaneRecord that go to its record file. */
export const TRAINING_FIELDS = ['training', 'initialLoss', 'finalLoss', 'lossHistory', 'createdAt'] as const;

export type TrainingPart = Pick<PlaneRecord, (typeof TRAINING_FIELDS)[number]>;

/** A settings entry of the new layout: the plane itself and the name of its record file. */
export type PlaneEntry = Omit<PlaneRecord, (typeof TRAINING_FIELDS)[number]> & { record: string };

/** Where record files are read; `describe` names a file for messages (e.g. ".vscode/microsteer/planes/x.json"). */
export interface RecordFiles {
  describe(file: string): string;
  /** The file's text; throws an Error whose message completes "<file> ...", e.g. "is missing". */
  read(file: string): string;
}

/** The settings entry and the record file's content for `record`, stored as `file`. Joining them gives `record` back. */
export function splitPlaneRecord(record: PlaneRecord, file: string): { entry: PlaneEntry; training: TrainingPart } {
  const { training, initialLoss, finalLoss, lossHistory, createdAt, ...plane } = record;
  return { entry: { ...plane, record: file }, training: { training, initialLoss, finalLoss, lossHistory, createdAt } };
}

/** The record file's text: pretty JSON, since people read it. */
export function recordFileText(training: TrainingPart): string {
  return JSON.stringify(training, null, 2) + '\n';
}

/**
 * A validated PlaneRecord from a settings entry of either layout. `files` reads the record files of the
 * settings layer the entry is in (undefined: that layer has no folder for them). Every error names the
 * plane, and the record file when it is at fault.
 */
export function parsePlaneEntry(json: unknown, name: string, files: RecordFiles | undefined): PlaneRecord {
  const source = `plane "${name}"`;
  if (!isObject(json) || json.record === undefined) return parsePlaneRecord(json, source);
  const file = json.record;
  const problem = recordFileNameProblem(file);
  if (problem !== undefined || typeof file !== 'string') throw new InputError(`${source}: "record" ${problem}`);
  const stray = TRAINING_FIELDS.filter((key) => key in json);
  if (stray.length > 0) throw new InputError(`${source}: ${stray.map((k) => `"${k}"`).join(', ')} belong in its record file "${file}", not in the settings`);
  const plane = parseSteeringPart(json, source);
  if (!files) throw new InputError(`${source}: its training record "${file}" is in a file, and these settings have no folder for record files`);
  const where = files.describe(file);
  let text: string;
  try {
    text = files.read(file);
  } catch (e) {
    throw new InputError(`${source}: its record file ${where} ${(e as Error).message}`);
  }
  let training: unknown;
  try {
    training = JSON.parse(text);
  } catch (e) {
    throw new InputError(`${source}: its record file ${where} is not valid JSON (${(e as Error).message})`);
  }
  if (!isObject(training)) throw new InputError(`${source}: its record file ${where} must hold a JSON object`);
  // Only the training fields are taken from the file: what steers always comes from the settings entry.
  return { ...plane, ...parseTrainingPart(training, `${source}: its record file ${where}`) };
}

/** The record file an entry names, when it names a valid one. */
export function recordFileOf(entry: unknown): string | undefined {
  return isObject(entry) && typeof entry.record === 'string' && recordFileNameProblem(entry.record) === undefined ? entry.record : undefined;
}

/** Every valid record file name the entries of a settings layer's planes object refer to. */
export function recordFilesOf(table: unknown): Set<string> {
  const files = new Set<string>();
  if (!isObject(table)) return files;
  for (const entry of Object.values(table)) {
    const file = recordFileOf(entry);
    if (file !== undefined) files.add(file.toLowerCase());
  }
  return files;
}

/** The record files `before` refers to and `after` no longer does: they can go. */
export function filesNoLongerReferenced(before: unknown, after: unknown): string[] {
  const kept = recordFilesOf(after);
  const gone: string[] = [];
  if (!isObject(before)) return gone;
  for (const entry of Object.values(before)) {
    const file = recordFileOf(entry);
    if (file !== undefined && !kept.has(file.toLowerCase()) && !gone.includes(file)) gone.push(file);
  }
  return gone;
}

const MAX_FILE_NAME = 100;

/**
 * Why `file` (from an untrusted settings file) cannot name a record file, or undefined. It must be a
 * plain name in the record folder: no separators, no leading dot (temporary files start with one),
 * no characters Windows refuses, ending in .json.
 */
export function recordFileNameProblem(file: unknown): string | undefined {
  if (typeof file !== 'string') return 'must be the name of a .json file';
  if (file.length > MAX_FILE_NAME) return `must be a file name under ${MAX_FILE_NAME} characters`;
  // eslint-disable-next-line no-control-regex
  if (/[/\\:*?"<>|\u0000-\u001f]/.test(file)) return `"${file}" must be a plain file name in the record folder (no folders, no special characters)`;
  if (file.startsWith('.') || !/\.json$/i.test(file) || file.length === '.json'.length) return `"${file}" must be a file name ending in .json, not starting with a dot`;
  return undefined;
}

/**
 * A record file name for the plane `name` that `taken` does not refuse: the name with every character
 * a file name cannot hold replaced, then "-2", "-3", ... on a clash. Compared without case, since
 * macOS and Windows folders ignore it.
 */
export function recordFileName(name: string, taken: (file: string) => boolean): string {
  let stem = name
    .normalize('NFC')
    .replace(/[^\p{L}\p{N} ._-]+/gu, '-')
    .replace(/^[\s.-]+|[\s.]+$/g, '')
    .slice(0, 60);
  // Windows refuses these names whatever the extension.
  if (stem === '' || /^(con|prn|aux|nul|com\d|lpt\d)$/i.test(stem)) stem = `plane ${stem}`.trim();
  for (let i = 1; ; i++) {
    const file = `${stem}${i === 1 ? '' : `-${i}`}.json`;
    if (!taken(file)) return file;
  }
}
