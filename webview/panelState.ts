/**
 * The steering panel's state, as the webview keeps it (vscode.setState) and restores it after being hidden
 * or after a window reload. A saved state is untrusted (an older version, or a damaged one): restoring
 * takes each field that passes the same checks as the host's message validation and keeps the default
 * for the others. Pure functions: no DOM, so unit tests run them in Node.
 */
import {
  PANEL_LIMITS,
  SAMPLING_DEFAULTS,
  type PanelAblation,
  type PanelColumn,
  type PanelPlane,
  type PanelRun,
  type PanelRunState,
  type PanelSampling,
  type PanelSteering,
  type PanelVector,
  type StopReason,
} from '../src/protocol';
import {
  SAMPLING_FIELDS,
  parseAblation,
  parseAblationLayers,
  parseAlpha,
  parseAlphas,
  parseColumnText,
  parsePlaneName,
  parsePrompt,
  parseRecord,
  parseSteering,
  type FieldParser,
} from '../src/extension/panelMessages';
import { InputError } from '../src/engine/errors';

/** The published examples compare the unsteered model with a few strengths around 2-3. */
export const DEFAULT_ALPHAS: readonly number[] = [0, 1.5, 2.5, 3.5];

export interface PanelState {
  prompt: string;
  /** '' until a plane is known; the vector's name when steering with a vector. */
  planeName: string;
  /** Absent: a plane. */
  steerWith?: PanelSteering;
  alphas: number[];
  /** "Ablate its direction" is on (it applies only while steering with a vector). */
  ablate?: PanelAblation;
  sampling: PanelSampling;
  /** The comparison shown in the columns. */
  run: PanelRun | null;
}

export function defaultPanelState(): PanelState {
  // No seed: each run draws a fresh one (the run reports it, to reuse).
  return { prompt: '', planeName: '', alphas: [...DEFAULT_ALPHAS], sampling: { ...SAMPLING_DEFAULTS, seed: null }, run: null };
}

export function restorePanelState(saved: unknown): PanelState {
  const state = defaultPanelState();
  if (typeof saved !== 'object' || saved === null || Array.isArray(saved)) return state;
  const s = saved as Record<string, unknown>;
  state.prompt = orDefault(parsePrompt, s.prompt, state.prompt);
  state.planeName = orDefault(parsePlaneName, s.planeName, state.planeName);
  if (orDefault(parseSteering, s.steerWith, 'plane') === 'vector') state.steerWith = 'vector';
  state.alphas = orDefault(parseAlphas, s.alphas, state.alphas);
  const ablate = orDefault(parseAblation, s.ablate, undefined);
  if (ablate) state.ablate = ablate;
  const sampling = s.sampling;
  if (typeof sampling === 'object' && sampling !== null && !Array.isArray(sampling)) {
    const fields = sampling as Record<string, unknown>;
    const merge = <K extends keyof PanelSampling>(key: K): void => {
      state.sampling[key] = orDefault(SAMPLING_FIELDS[key], fields[key], state.sampling[key]);
    };
    (Object.keys(SAMPLING_FIELDS) as (keyof PanelSampling)[]).forEach(merge);
  }
  state.run = orDefault(parseSavedRun, s.run, null);
  return state;
}

/** A run saved as running was cut off by the reload: the host that ran it is gone. */
const parseSavedRun: FieldParser<PanelRun> = (value, field) => {
  const r = parseRecord(value, field);
  const columns = r.columns;
  if (!Array.isArray(columns) || columns.length < 1 || columns.length > PANEL_LIMITS.maxAlphas) {
    throw new InputError(`${field}.columns must be an array of 1 to ${PANEL_LIMITS.maxAlphas} columns`);
  }
  if (typeof r.runId !== 'number' || !Number.isSafeInteger(r.runId) || r.runId < 0) {
    throw new InputError(`${field}.runId must be a non-negative integer`);
  }
  const state = RUN_STATES.includes(r.state as PanelRunState) ? (r.state as PanelRunState) : undefined;
  if (!state) throw new InputError(`${field}.state must be one of ${RUN_STATES.join(', ')}`);
  const run: PanelRun = {
    runId: r.runId,
    planeName: parsePlaneName(r.planeName, `${field}.planeName`),
    state: state === 'running' ? 'cancelled' : state,
    columns: columns.map((c, i) => parseSavedColumn(c, `${field}.columns[${i}]`)),
  };
  if (typeof r.error === 'string') run.error = parseColumnText(r.error, `${field}.error`);
  if (r.modelProblem === true) run.modelProblem = true;
  if (r.seed !== undefined && r.seed !== null) run.seed = SAMPLING_FIELDS.seed(r.seed, `${field}.seed`) ?? undefined;
  return run;
};

const RUN_STATES: readonly PanelRunState[] = ['running', 'done', 'cancelled', 'failed'];
const STOP_REASONS: readonly StopReason[] = ['eos', 'maxTokens', 'cancelled'];

function parseSavedColumn(value: unknown, field: string): PanelColumn {
  const c = parseRecord(value, field);
  const column: PanelColumn = { alpha: parseAlpha(c.alpha, `${field}.alpha`), text: parseColumnText(c.text, `${field}.text`) };
  if (c.ablation !== undefined) column.ablation = parseAblation(c.ablation, `${field}.ablation`);
  if (typeof c.tokens === 'number' && Number.isSafeInteger(c.tokens) && c.tokens >= 0) column.tokens = c.tokens;
  if (STOP_REASONS.includes(c.stopReason as StopReason)) column.stopReason = c.stopReason as StopReason;
  return column;
}

function orDefault<T>(parse: FieldParser<T>, value: unknown, fallback: T): T {
  if (value === undefined) return fallback;
  try {
    return parse(value, 'saved state');
  } catch {
    return fallback;
  }
}

/**
 * Appends one alpha one step above the last (capped at the range's top), or the baseline 0 to an empty
 * list; at the limit nothing changes.
 */
export function addAlpha(alphas: readonly number[]): number[] {
  if (alphas.length >= PANEL_LIMITS.maxAlphas) return [...alphas];
  const next = alphas.length ? Math.min(alphas[alphas.length - 1] + 1, PANEL_LIMITS.alphaMax) : 0;
  return [...alphas, next];
}

/** Removes the alpha at `index`; the last remaining one stays (a comparison needs a column). */
export function removeAlpha(alphas: readonly number[], index: number): number[] {
  if (alphas.length <= 1 || index < 0 || index >= alphas.length) return [...alphas];
  return alphas.filter((_, i) => i !== index);
}

/**
 * The plane to show: the active plane (the settings' microSteer.activePlane, which picking one in the panel
 * sets, so the panel and every command agree), else the one already shown while it exists, else the first.
 */
export function choosePlane(current: string, planes: readonly PanelPlane[], activePlane: string | null): string {
  const names = planes.map((p) => p.name);
  if (activePlane !== null && names.includes(activePlane)) return activePlane;
  if (names.includes(current)) return current;
  return names[0] ?? '';
}

/** A column's heading: alpha 0 runs without the plane, so it is the unsteered baseline. */
export function alphaLabel(alpha: number): string {
  return alpha === 0 ? 'α = 0 · unsteered baseline' : `α = ${alpha}`;
}

/** A column's heading: the ablation column says what it removed, else alphaLabel. */
export function columnLabel(column: PanelColumn): string {
  return column.ablation ? `direction ablated (${layersText(column.ablation.layers)})` : alphaLabel(column.alpha);
}

/** "all layers", "layer 3" or "layers 1, 2". */
function layersText(layers: PanelAblation['layers']): string {
  if (layers === 'all') return 'all layers';
  return `${layers.length === 1 ? 'layer' : 'layers'} ${layers.join(', ')}`;
}

/** The layers field of the ablation option: blank or "all" for every layer, else layer numbers split by commas or spaces. */
export function parseLayerChoice(text: string, field: string): PanelAblation['layers'] {
  const trimmed = text.trim();
  if (trimmed === '' || trimmed.toLowerCase() === 'all') return 'all';
  const parts = trimmed.split(/[\s,]+/).filter((p) => p !== '');
  const numbers = parts.map((p) => (/^\d+$/.test(p) ? Number(p) : Number.NaN));
  const bad = parts.find((_, i) => Number.isNaN(numbers[i]));
  if (bad !== undefined) throw new InputError(`${field}: "${bad}" is not a layer number (write e.g. "all" or "1, 2")`);
  return parseAblationLayers(numbers, field);
}

/** The picker lists planes by name and vectors under this prefix. */
const VECTOR_PREFIX = 'vector:';

/** The picker option's value of a plane or vector. */
export function pickerValue(steerWith: PanelSteering | undefined, name: string): string {
  return steerWith === 'vector' ? `${VECTOR_PREFIX}${name}` : name;
}

/** What a picker value chooses: a listed vector when it carries the prefix, else a plane. */
export function pickedSteering(value: string, vectors: readonly PanelVector[]): { steerWith: PanelSteering; name: string } {
  const name = value.slice(VECTOR_PREFIX.length);
  if (value.startsWith(VECTOR_PREFIX) && vectors.some((v) => v.name === name)) return { steerWith: 'vector', name };
  return { steerWith: 'plane', name: value };
}
