/**
 * The bytes a decode step must read, per weights format, and the tokens/s that this machine's memory
 * bandwidth allows at that size: batch-1 decode reads every weight once per token (the embedding too,
 * as the tied output head), so bandwidth / bytes is its ceiling. The KV cache and activations are left
 * out: at the benchmark's short contexts they are well under 1% of the weights.
 */
import { gemma2TensorShapes } from '../../src/engine/model/modelFolder';
import type { Gemma2Config } from '../../src/engine/model/types';
import { blockLayout } from '../../src/engine/weights/blockQuantize';

/** Our formats and llama.cpp's GGUF types. */
export type BenchFormat = 'f32' | 'int8' | 'int4';
export type GgufFormat = 'F16' | 'Q8_0' | 'Q4_0';

/** llama.cpp's type at our format's precision: the pairs the bench compares. */
export const PEER_FORMAT: Record<BenchFormat, GgufFormat> = { f32: 'F16', int8: 'Q8_0', int4: 'Q4_0' };

/** Bytes of one row of `cols` values of a matrix in the format (norms stay float32 in all of them). */
function rowBytes(format: BenchFormat | GgufFormat, cols: number): number {
  switch (format) {
    case 'f32':
      return cols * 4;
    case 'F16':
      return cols * 2;
    case 'int8':
    case 'int4': {
      // uint8 data and one float32 scale per block (blockQuantize.ts)
      const { blocks, blockBytes } = blockLayout(cols, format === 'int8' ? 8 : 4);
      return blocks * (blockBytes + 4);
    }
    case 'Q8_0':
      return (cols / 32) * 34; // per 32 values: an f16 scale and 32 int8
    case 'Q4_0':
      return (cols / 32) * 18; // per 32 values: an f16 scale and 16 bytes of nibbles
  }
}

/** The bytes of the model's weights in the format: what one decode step reads. */
export function weightBytes(config: Gemma2Config, format: BenchFormat | GgufFormat): number {
  let bytes = 0;
  for (const shape of gemma2TensorShapes(config).values()) bytes += shape.length === 1 ? shape[0] * 4 : shape[0] * rowBytes(format, shape[1]);
  return bytes;
}

export function parameterCount(config: Gemma2Config): number {
  let count = 0;
  for (const shape of gemma2TensorShapes(config).values()) count += shape.reduce((a, d) => a * d, 1);
  return count;
}

/** Tokens/s at batch 1 if a step cost only reading the weights once at `bytesPerSecond`. */
export function rooflineTokensPerSecond(config: Gemma2Config, format: BenchFormat | GgufFormat, bytesPerSecond: number): number {
  return bytesPerSecond / weightBytes(config, format);
}
