/**
 * The weights setting: the precision the model's weights are computed in. `f32` is exact (float32
 * copies of every weight); `stored` computes in the file's own BF16/F16 where the device has kernels for
 * it (CUDA); `int8` and `int4` are block-quantized (MatMulNBits) on CPU and CUDA. `auto` picks by
 * device and memory and says what it picked and why.
 */
import * as os from 'node:os';
import { InputError } from '../errors';
import type { ModelFolder } from '../model/types';
import type { Device } from '../runtime/session';
import type { QuantBits } from './blockQuantize';

export const WEIGHTS_FORMATS = ['f32', 'stored', 'int8', 'int4'] as const;
export type WeightsFormat = (typeof WEIGHTS_FORMATS)[number];
export type WeightsSetting = WeightsFormat | 'auto';
export const WEIGHTS_SETTINGS: readonly WeightsSetting[] = ['auto', ...WEIGHTS_FORMATS];

export interface WeightsChoice {
  format: WeightsFormat;
  /** What was picked and why, for the user (always set, also when the format was asked for). */
  reason: string;
}

/** Bits of a quantized format. */
export function quantBits(format: WeightsFormat): QuantBits | null {
  return format === 'int8' ? 8 : format === 'int4' ? 4 : null;
}

export function parseWeightsSetting(value: unknown, what: string): WeightsSetting {
  if (typeof value === 'string' && (WEIGHTS_SETTINGS as readonly string[]).includes(value)) return value as WeightsSetting;
  throw new InputError(`${what} must be one of ${WEIGHTS_SETTINGS.join(', ')}, got ${JSON.stringify(value)}`);
}

/**
 * Bytes of float32 projections up to which f32 sessions pack them at creation. Packing (MLAS) is what
 * makes a product over several rows fast, but it costs about 3 s per GB at every start (the 2B shape,
 * 8.1 GB of projections: 25 s to open, against 1.4 s without). Larger models read their projections
 * where they lie, memory-mapped: decode at one row measured 15% slower, at four rows 40%, prefill 7%.
 * Quantized products always pack (MatMulNBits unpacked is 40-100x slower).
 */
const F32_PACKED_BYTES = 1e9;

/** Whether sessions over weights in `format` pack them at creation (see F32_PACKED_BYTES). */
export function packsWeights(format: WeightsFormat, folder: ModelFolder): boolean {
  if (format !== 'f32') return true;
  const projections = [...folder.tensors.values()].filter((t) => t.shape.length === 2 && t.name !== 'model.embed_tokens.weight');
  return projections.reduce((sum, t) => sum + t.shape[0] * t.shape[1] * 4, 0) <= F32_PACKED_BYTES;
}

/** Up to this share of the machine's memory, float32 copies of the weights are worth their exactness. */
const F32_SHARE_OF_MEMORY = 0.25;

/**
 * Resolves a setting for a model on a device. `cudaProblem` is why CUDA cannot run here (null when it
 * may): `stored` needs CUDA, since onnxruntime's CPU provider has no BF16/F16 products.
 */
export function chooseWeights(setting: WeightsSetting, folder: ModelFolder, device: Device, cudaProblem: string | null, totalMemory = os.totalmem()): WeightsChoice {
  const cuda = device !== 'cpu' && cudaProblem === null;
  const storedDtype = folder.tensors.get('model.embed_tokens.weight')?.dtype ?? 'F32';
  if (setting === 'stored') {
    if (!cuda) {
      throw new InputError(
        `weights "stored" compute in the file's ${storedDtype} on CUDA, which is not available here (${device === 'cpu' ? 'device is cpu' : cudaProblem}): use f32, int8 or int4`,
      );
    }
    return { format: 'stored', reason: `weights: stored (${storedDtype}) on CUDA, as asked` };
  }
  if (setting !== 'auto') return { format: setting, reason: `weights: ${setting}, as asked` };
  if (cuda && storedDtype !== 'F32') return { format: 'stored', reason: `weights: stored (${storedDtype}), picked for CUDA` };
  const params = [...folder.tensors.values()].reduce((sum, t) => sum + t.shape.reduce((a, d) => a * d, 1), 0);
  const f32Bytes = params * 4;
  const gb = (bytes: number) => `${(bytes / 1e9).toFixed(1)} GB`;
  if (f32Bytes <= totalMemory * F32_SHARE_OF_MEMORY) {
    return { format: 'f32', reason: `weights: f32 (exact), picked since float32 copies take ${gb(f32Bytes)} of this machine's ${gb(totalMemory)}` };
  }
  return {
    format: 'int8',
    reason: `weights: int8, picked since float32 copies would take ${gb(f32Bytes)} of this machine's ${gb(totalMemory)} (int8 takes about ${gb(params * 1.125)})`,
  };
}
