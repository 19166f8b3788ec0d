/** The --device and --weights options shared by commands that run the model. */
import { InputError } from '../../engine/errors';
import { parseWeightsSetting, WEIGHTS_SETTINGS, type WeightsSetting } from '../../engine/weights/weightsFormat';
import type { Device } from '../../protocol';

export function parseDevice(text: string | undefined): Device {
  const device = text ?? 'auto';
  if (device !== 'auto' && device !== 'cpu' && device !== 'cuda') throw new InputError(`--device must be auto, cpu or cuda, got "${device}"`);
  return device;
}

/** --weights, or `fallback` when absent (auto for the commands users run; f32 for the exact fidelity checks). */
export function parseWeights(text: string | undefined, fallback: WeightsSetting = 'auto'): WeightsSetting {
  return text === undefined ? fallback : parseWeightsSetting(text, '--weights');
}

/** The help line of --weights. */
export function weightsHelp(fallback: WeightsSetting = 'auto'): string {
  return `  --weights W         ${WEIGHTS_SETTINGS.join(', ')} (default ${fallback}): the precision of the weights; auto picks by device and memory`;
}
