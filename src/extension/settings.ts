/**
 * The extension's settings as typed values. The manifest declares them (package.json
 * contributes.configuration); a number outside the manifest's range counts as its default (the engine
 * checks again what it receives), and a workspace that is not trusted cannot switch inline completions on.
 */
import * as vscode from 'vscode';
import type { Device, SamplingOptions, TrainOptions, WeightsSetting } from '../protocol';
import { WEIGHTS_SETTINGS } from '../engine/weights/weightsFormat';
import { TRAINING_SPLITS, type TrainingSplit } from './exampleSplit';
import { numericSettingProblem, trustedSettingValue } from './settingRules';

export const SECTION = 'microSteer';

function config(): vscode.WorkspaceConfiguration {
  return vscode.workspace.getConfiguration(SECTION);
}

/** A setting that may be null (meaning "the method's default"), as undefined when unset. */
function optional<T>(key: string): T | undefined {
  return config().get<T | null>(key) ?? undefined;
}

/** A setting's value, or its manifest default when the value is of the wrong type (settings files are hand-edited). */
function checked<T>(key: string, valid: (value: unknown) => value is T): T {
  const c = config();
  const value = c.get<unknown>(key);
  if (valid(value)) return value;
  const fallback = c.inspect<unknown>(key)?.defaultValue;
  if (valid(fallback)) return fallback;
  throw new Error(`the setting ${SECTION}.${key} has no valid default in the extension's manifest`);
}

/** A numeric setting within the manifest's range, or its manifest default. */
function numeric(key: string): number {
  return checked(key, (v): v is number => numericSettingProblem(key, v) === undefined);
}

/** A numeric setting that may be unset (the method's default): a value outside the manifest's range is unset too. */
function optionalNumber(key: string): number | undefined {
  const value = optional<unknown>(key);
  return value !== undefined && numericSettingProblem(key, value) === undefined ? (value as number) : undefined;
}

export function configuredDevice(): Device {
  return checked('device', (v): v is Device => v === 'auto' || v === 'cpu' || v === 'cuda');
}

export function configuredWeights(): WeightsSetting {
  return checked('weights', (v): v is WeightsSetting => (WEIGHTS_SETTINGS as readonly unknown[]).includes(v));
}

/** The generation alpha of the active plane. */
export function configuredAlpha(): number {
  return numeric('alpha');
}

export function trainingSplit(): TrainingSplit {
  return checked('trainingSplit', (v): v is TrainingSplit => TRAINING_SPLITS.includes(v as TrainingSplit));
}

/** Training options from `microSteer.training.*`; unset ones take the method's defaults in the engine. */
export function trainOptions(useAveraging: boolean): TrainOptions {
  return {
    layer: optionalNumber('training.layer'),
    steps: optionalNumber('training.steps'),
    learningRate: optionalNumber('training.learningRate'),
    alpha: optionalNumber('training.alpha'),
    useAveraging,
    lambdaMle: optionalNumber('training.lambdaMle'),
    lambdaCap: optionalNumber('training.lambdaCap'),
    lambdaTheta: optionalNumber('training.lambdaTheta'),
    mleMode: optional('training.mleMode'),
    batchSize: optionalNumber('training.batchSize'),
    batchTokens: optionalNumber('training.batchTokens'),
    seed: optionalNumber('training.seed'),
  };
}

/** Sampling from `microSteer.generation.*`; an unset seed draws a fresh one, so that each generation differs. */
export function samplingOptions(maxNewTokens?: number): SamplingOptions {
  return {
    temperature: optionalNumber('generation.temperature'),
    topK: optionalNumber('generation.topK'),
    topP: optionalNumber('generation.topP'),
    seed: optionalNumber('generation.seed') ?? freshSeed(),
    maxNewTokens: maxNewTokens ?? optionalNumber('generation.maxNewTokens'),
    chatTemplate: optional('generation.chatTemplate'),
    steerPrompt: optional('generation.steerPrompt'),
  };
}

/** A sampling seed for a run that asked for none: each such run differs. */
export function freshSeed(): number {
  return Math.floor(Math.random() * 0x1_0000_0000);
}

/** How much text before the cursor makes the prompt. */
export function promptContextChars(): number {
  return numeric('generation.contextChars');
}

export interface InlineSettings {
  enabled: boolean;
  debounceMs: number;
  maxTokens: number;
}

export function inlineSettings(): InlineSettings {
  return {
    // It makes the model run by itself as one types: a workspace that is not trusted cannot switch it on.
    enabled: trustedSettingValue(config().inspect<unknown>('inlineCompletions.enabled'), vscode.workspace.isTrusted) === true,
    debounceMs: numeric('inlineCompletions.debounceMs'),
    maxTokens: numeric('inlineCompletions.maxTokens'),
  };
}
