/** The model-shape flags of the commands that make a model (`tiny-model`, `pretrain`). */
import type { Gemma2Shape } from '../../engine/model/modelWriter';
import { parseInteger } from '../args';

/** Each flag, the shape key it sets, and its help text. */
const SHAPE_FLAGS: [flag: string, key: keyof Gemma2Shape, help: string][] = [
  ['layers', 'layers', 'decoder layers'],
  ['hidden', 'hidden', 'hidden size'],
  ['heads', 'heads', 'attention heads'],
  ['kv-heads', 'kvHeads', 'key/value heads'],
  ['head-dim', 'headDim', 'head dimension, even'],
  ['intermediate', 'intermediate', 'MLP width'],
  ['sliding-window', 'slidingWindow', 'window of the sliding (even) layers'],
];

export const SHAPE_OPTIONS = Object.fromEntries(SHAPE_FLAGS.map(([flag]) => [flag, { type: 'string' as const }]));

/** The usage lines of the shape flags with their defaults. */
export function shapeUsage(defaults: Gemma2Shape): string {
  return SHAPE_FLAGS.map(([flag, key, help]) => `  ${`--${flag} N`.padEnd(24)}${help} (default ${defaults[key]})`).join('\n');
}

/** The shape values given on the command line (positive integers). */
export function parseShapeOptions(values: Record<string, unknown>): Partial<Gemma2Shape> {
  const shape: Partial<Gemma2Shape> = {};
  for (const [flag, key] of SHAPE_FLAGS) {
    const text = values[flag];
    if (typeof text === 'string') shape[key] = parseInteger(text, `--${flag}`, 1);
  }
  return shape;
}
