/**
 * Rules for values from settings files, which are hand-edited or come with a repository (VS Code only
 * underlines a value outside the manifest's schema): the manifest's numeric ranges, enforced here, and
 * which layer's value counts for a setting that an untrusted workspace must not set.
 * No vscode import: unit-tested.
 */
import manifest from '../../package.json';
import type { SettingLayers } from './modelPathPolicy';

interface NumericSchema {
  type?: string | string[];
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
}

/** Every setting of every group of the manifest's configuration. */
const PROPERTIES: Record<string, NumericSchema> = Object.assign({}, ...manifest.contributes.configuration.map((group) => group.properties));

/** Why `value` is not a valid value of the numeric setting `microSteer.<key>` by the manifest's schema, or undefined. */
export function numericSettingProblem(key: string, value: unknown): string | undefined {
  const schema = PROPERTIES[`microSteer.${key}`];
  if (!schema) throw new Error(`the manifest declares no setting microSteer.${key}`);
  const types = [schema.type].flat();
  if (value === null && types.includes('null')) return undefined;
  if (typeof value !== 'number' || !Number.isFinite(value)) return 'must be a finite number';
  if (types.includes('integer') && !Number.isInteger(value)) return 'must be an integer';
  if (schema.minimum !== undefined && value < schema.minimum) return `must be at least ${schema.minimum}`;
  if (schema.exclusiveMinimum !== undefined && value <= schema.exclusiveMinimum) return `must be more than ${schema.exclusiveMinimum}`;
  if (schema.maximum !== undefined && value > schema.maximum) return `must be at most ${schema.maximum}`;
  return undefined;
}

/**
 * The value of a setting that makes the model run by itself (inline completions): the workspace's
 * value counts only in a trusted workspace; otherwise the user's, or the default.
 */
export function trustedSettingValue<T>(layers: SettingLayers<T> | undefined, trusted: boolean): T | undefined {
  const workspace = layers?.workspaceFolderValue ?? layers?.workspaceValue;
  if (trusted && workspace !== undefined) return workspace;
  return layers?.globalValue ?? layers?.defaultValue;
}
