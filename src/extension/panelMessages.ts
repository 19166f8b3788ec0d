/**
 * Checks of what the steering panel's webview sends to the extension host. The webview is untrusted
 * input (a compromised or outdated page may post anything), so each parser builds a fresh value holding
 * only the known fields, or throws InputError naming the field and what was expected. The host ignores
 * and logs a message that fails. The webview's state restoration reuses the field parsers, so a saved
 * state and a message are held to the same rules. No `vscode` import: the webview bundles this file.
 */
import { InputError } from '../engine/errors';
import {
  PANEL_LIMITS,
  type PanelAblation,
  type PanelGenerateParams,
  type PanelSampling,
  type PanelSteering,
  type WebviewToHostMessage,
} from '../protocol';

/** Parses one field of untrusted data; `field` names it in the error (e.g. `generate.params.alphas[2]`). */
export type FieldParser<T> = (value: unknown, field: string) => T;

export function parseWebviewMessage(raw: unknown): WebviewToHostMessage {
  const m = parseRecord(raw, 'message');
  switch (m.type) {
    case 'ready':
    case 'stop':
    case 'selectModelFolder':
      expectOnlyFields(m, ['type'], `${m.type} message`);
      return { type: m.type };
    case 'generate':
      expectOnlyFields(m, ['type', 'params'], 'generate message');
      return { type: 'generate', params: parseGenerateParams(m.params, 'generate.params') };
    case 'copy':
    case 'insert':
      expectOnlyFields(m, ['type', 'text'], `${m.type} message`);
      return { type: m.type, text: parseColumnText(m.text, `${m.type}.text`) };
    case 'selectPlane':
      expectOnlyFields(m, ['type', 'name'], 'selectPlane message');
      return { type: 'selectPlane', name: parsePlaneName(m.name, 'selectPlane.name') };
    default:
      throw new InputError(`message.type must be one of ready, generate, stop, copy, insert, selectPlane, selectModelFolder, got ${describe(m.type)}`);
  }
}

export function parseGenerateParams(value: unknown, field: string): PanelGenerateParams {
  const p = parseRecord(value, field);
  expectOnlyFields(p, ['prompt', 'planeName', 'steerWith', 'alphas', 'ablate', 'sampling'], field);
  const params: PanelGenerateParams = {
    prompt: parsePrompt(p.prompt, `${field}.prompt`),
    planeName: parsePlaneName(p.planeName, `${field}.planeName`),
    alphas: parseAlphas(p.alphas, `${field}.alphas`),
    sampling: parseSampling(p.sampling, `${field}.sampling`),
  };
  if (p.steerWith !== undefined) params.steerWith = parseSteering(p.steerWith, `${field}.steerWith`);
  if (p.ablate !== undefined) {
    // Ablation removes a vector's direction: a plane has none to offer.
    if (params.steerWith !== 'vector') throw new InputError(`${field}.ablate needs steerWith "vector"`);
    params.ablate = parseAblation(p.ablate, `${field}.ablate`);
  }
  return params;
}

/** `{ layers: 'all' | [distinct layer indices] }`; the engine checks the layers against the model. */
export const parseAblation: FieldParser<PanelAblation> = (value, field) => {
  const a = parseRecord(value, field);
  expectOnlyFields(a, ['layers'], field);
  return { layers: parseAblationLayers(a.layers, `${field}.layers`) };
};

export const parseAblationLayers: FieldParser<PanelAblation['layers']> = (value, field) => {
  if (value === 'all') return 'all';
  const max = PANEL_LIMITS.maxAblationLayers;
  if (!Array.isArray(value) || value.length < 1 || value.length > max) {
    throw new InputError(`${field} must be "all" or an array of 1 to ${max} layers, got ${describe(value)}`);
  }
  const layers = value.map((l, i) => parseNumber(l, `${field}[${i}]`, { min: 0, max: max - 1, integer: true }));
  const repeated = layers.find((l, i) => layers.indexOf(l) !== i);
  if (repeated !== undefined) throw new InputError(`${field} names layer ${repeated} twice`);
  return layers;
};

export const parseSteering: FieldParser<PanelSteering> = (value, field) => {
  if (value !== 'plane' && value !== 'vector') throw new InputError(`${field} must be "plane" or "vector", got ${describe(value)}`);
  return value;
};

export const parsePrompt: FieldParser<string> = (value, field) =>
  parseString(value, field, 0, PANEL_LIMITS.maxPromptChars);

export const parsePlaneName: FieldParser<string> = (value, field) =>
  parseString(value, field, 1, PANEL_LIMITS.maxPlaneNameChars);

export const parseColumnText: FieldParser<string> = (value, field) =>
  parseString(value, field, 0, PANEL_LIMITS.maxTextChars);

export const parseAlpha: FieldParser<number> = (value, field) =>
  parseNumber(value, field, { min: PANEL_LIMITS.alphaMin, max: PANEL_LIMITS.alphaMax });

export const parseAlphas: FieldParser<number[]> = (value, field) => {
  if (!Array.isArray(value) || value.length < 1 || value.length > PANEL_LIMITS.maxAlphas) {
    throw new InputError(`${field} must be an array of 1 to ${PANEL_LIMITS.maxAlphas} alphas, got ${describe(value)}`);
  }
  return value.map((a, i) => parseAlpha(a, `${field}[${i}]`));
};

/** One parser per sampling setting, in the ranges the engine accepts (and PANEL_LIMITS caps). */
export const SAMPLING_FIELDS: { readonly [K in keyof PanelSampling]: FieldParser<PanelSampling[K]> } = {
  temperature: (v, f) => parseNumber(v, f, { min: 0, max: PANEL_LIMITS.maxTemperature }),
  topK: (v, f) => parseNumber(v, f, { min: 0, max: PANEL_LIMITS.maxTopK, integer: true }),
  topP: (v, f) => parseNumber(v, f, { min: 0, max: 1, minExclusive: true }),
  seed: (v, f) => (v === null ? null : parseNumber(v, f, { min: 0, max: PANEL_LIMITS.maxSeed, integer: true })),
  maxNewTokens: (v, f) => parseNumber(v, f, { min: 1, max: PANEL_LIMITS.maxNewTokens, integer: true }),
  chatTemplate: (v, f) => {
    if (typeof v !== 'boolean') throw new InputError(`${f} must be true or false, got ${describe(v)}`);
    return v;
  },
  steerPrompt: (v, f) => {
    if (v !== 'last' && v !== 'all') throw new InputError(`${f} must be "last" or "all", got ${describe(v)}`);
    return v;
  },
};

export const parseSampling: FieldParser<PanelSampling> = (value, field) => {
  const s = parseRecord(value, field);
  const keys = Object.keys(SAMPLING_FIELDS) as (keyof PanelSampling)[];
  expectOnlyFields(s, keys, field);
  const parse = <K extends keyof PanelSampling>(key: K): PanelSampling[K] => SAMPLING_FIELDS[key](s[key], `${field}.${key}`);
  return {
    temperature: parse('temperature'),
    topK: parse('topK'),
    topP: parse('topP'),
    seed: parse('seed'),
    maxNewTokens: parse('maxNewTokens'),
    chatTemplate: parse('chatTemplate'),
    steerPrompt: parse('steerPrompt'),
  };
};

/** A plain object (not null, not an array). */
export function parseRecord(value: unknown, field: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new InputError(`${field} must be an object, got ${describe(value)}`);
  }
  return value as Record<string, unknown>;
}

function expectOnlyFields(value: Record<string, unknown>, allowed: readonly string[], field: string): void {
  const unknown = Object.keys(value).find((k) => !allowed.includes(k));
  if (unknown !== undefined) {
    throw new InputError(`${field} has an unknown field ${describe(unknown)} (expected only ${allowed.join(', ')})`);
  }
}

function parseString(value: unknown, field: string, minChars: number, maxChars: number): string {
  if (typeof value !== 'string' || value.length < minChars || value.length > maxChars) {
    const what = minChars > 0 ? `${minChars} to ${maxChars}` : `at most ${maxChars}`;
    throw new InputError(`${field} must be a string of ${what} characters, got ${describe(value)}`);
  }
  return value;
}

interface NumberRange {
  min: number;
  max: number;
  integer?: boolean;
  /** The minimum itself is excluded. */
  minExclusive?: boolean;
}

function parseNumber(value: unknown, field: string, range: NumberRange): number {
  const ok =
    typeof value === 'number' &&
    Number.isFinite(value) &&
    (!range.integer || Number.isInteger(value)) &&
    (range.minExclusive ? value > range.min : value >= range.min) &&
    value <= range.max;
  if (!ok) {
    const kind = range.integer ? 'an integer' : 'a finite number';
    const interval = `${range.minExclusive ? '(' : '['}${range.min}, ${range.max}]`;
    throw new InputError(`${field} must be ${kind} in ${interval}, got ${describe(value)}`);
  }
  return value;
}

/** A short description of an untrusted value for an error message (never the whole of a long string). */
function describe(value: unknown): string {
  if (typeof value === 'string') return value.length > 40 ? `a string of ${value.length} characters` : JSON.stringify(value);
  if (Array.isArray(value)) return `an array of ${value.length}`;
  if (typeof value === 'object' && value !== null) return 'an object';
  if (typeof value === 'function') return 'a function';
  return String(value);
}
