/** The --device option shared by commands that run the model. */
import { InputError } from '../../engine/errors';
import type { Device } from '../../protocol';

export function parseDevice(text: string | undefined): Device {
  const device = text ?? 'auto';
  if (device !== 'auto' && device !== 'cpu' && device !== 'cuda') throw new InputError(`--device must be auto, cpu or cuda, got "${device}"`);
  return device;
}
