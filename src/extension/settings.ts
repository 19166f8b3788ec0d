/**
 * The extension's settings as typed values. The manifest declares them (package.json
 * contributes.configuration); the engine checks the numbers it receives, so a bad value reaches the
 * user as the engine's message naming it.
 */
import * as vscode from 'vscode';
import type { Device, SamplingOptions, TrainOptions } from '../protocol';
import { TRAINING_SPLITS, type TrainingSplit } from './exampleSplit';

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

const isNumber = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const isBoolean = (v: unknown): v is boolean => typeof v === 'boolean';

export function configuredDevice(): Device {
  return checked('device', (v): v is Device => v === 'auto' || v === 'cpu' || v === 'cuda');
}

/** The generation alpha of the active plane. */
export function configuredAlpha(): number {
  return checked('alpha', isNumber);
}

export function trainingSplit(): TrainingSplit {
  return checked('trainingSplit', (v): v is TrainingSplit => TRAINING_SPLITS.includes(v as TrainingSplit));
}

/** Training options from `microSteer.training.*`; unset ones take the method's defaults in the engine. */
export function trainOptions(useAveraging: boolean): TrainOptions {
  return {
    layer: optional('training.layer'),
    steps: optional('training.steps'),
    learningRate: optional('training.learningRate'),
    alpha: optional('training.alpha'),
    useAveraging,
    lambdaMle: optional('training.lambdaMle'),
    lambdaCap: optional('training.lambdaCap'),
    lambdaTheta: optional('training.lambdaTheta'),
    mleMode: optional('training.mleMode'),
    batchSize: optional('training.batchSize'),
    seed: optional('training.seed'),
  };
}

/** Sampling from `microSteer.generation.*`; an unset seed draws a fresh one, so that each generation differs. */
export function samplingOptions(maxNewTokens?: number): SamplingOptions {
  return {
    temperature: optional('generation.temperature'),
    topK: optional('generation.topK'),
    topP: optional('generation.topP'),
    seed: optional<number>('generation.seed') ?? freshSeed(),
    maxNewTokens: maxNewTokens ?? optional('generation.maxNewTokens'),
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
  return Math.max(1, Math.floor(checked('generation.contextChars', isNumber)));
}

export interface InlineSettings {
  enabled: boolean;
  debounceMs: number;
  maxTokens: number;
}

export function inlineSettings(): InlineSettings {
  return {
    enabled: checked('inlineCompletions.enabled', isBoolean),
    debounceMs: Math.max(0, checked('inlineCompletions.debounceMs', isNumber)),
    maxTokens: Math.max(1, Math.floor(checked('inlineCompletions.maxTokens', isNumber))),
  };
}
