/**
 * The safetensors container: an 8-byte little-endian header length N, N bytes of JSON
 * (`{name: {dtype, shape, data_offsets: [begin, end]}, __metadata__?: {...}}`), then the tensor bytes,
 * with offsets relative to the end of the header. Only the header is ever read here.
 */
import { open, type FileHandle } from 'node:fs/promises';
import { InputError } from '../errors';
import type { SafetensorsDtype, TensorLocation } from './types';

export const DTYPE_BYTES: Record<SafetensorsDtype, number> = { F32: 4, F16: 2, BF16: 2 };

/** The safetensors library's own bound: a header this large is a damaged or foreign file. */
const MAX_HEADER_BYTES = 100_000_000;

export interface SafetensorsHeader {
  file: string;
  fileSize: number;
  /** Byte length of the JSON header (N); tensor data starts at 8 + N. */
  headerLength: number;
  metadata: Record<string, unknown> | undefined;
  /** In file order. */
  tensors: TensorLocation[];
}

/** Reads and validates the header of `file` (an absolute path). Errors name the file and the tensor. */
export async function readSafetensorsHeader(file: string): Promise<SafetensorsHeader> {
  let handle: FileHandle;
  try {
    handle = await open(file, 'r');
  } catch (e) {
    throw new InputError(`cannot open ${file}: ${(e as Error).message}`);
  }
  try {
    const fileSize = (await handle.stat()).size;
    if (fileSize < 8) throw new InputError(`${file}: truncated: ${fileSize} bytes, too short for the 8-byte header length`);
    const lengthBytes = await readExactly(handle, 0, 8, file);
    const length = lengthBytes.readBigUInt64LE(0);
    if (length > BigInt(fileSize - 8)) {
      throw new InputError(`${file}: header length ${length} runs past the end of the file (${fileSize} bytes): truncated or not a safetensors file`);
    }
    if (length > BigInt(MAX_HEADER_BYTES) || length < 2n) {
      throw new InputError(`${file}: header length ${length} is not plausible (expected 2 to ${MAX_HEADER_BYTES} bytes): not a safetensors file?`);
    }
    const headerLength = Number(length);
    const json = await readExactly(handle, 8, headerLength, file);
    return parseSafetensorsHeader(file, fileSize, json);
  } finally {
    await handle.close();
  }
}

/** Validates the JSON header bytes of a file of `fileSize` bytes. */
export function parseSafetensorsHeader(file: string, fileSize: number, json: Uint8Array): SafetensorsHeader {
  const headerLength = json.byteLength;
  const dataStart = 8 + headerLength;
  let parsed: unknown;
  try {
    parsed = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(json));
  } catch (e) {
    throw new InputError(`${file}: the header is not valid UTF-8 JSON: ${(e as Error).message}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new InputError(`${file}: the header must be a JSON object of tensors`);
  }

  let metadata: Record<string, unknown> | undefined;
  const tensors: (TensorLocation & { begin: number; end: number })[] = [];
  for (const [name, entry] of Object.entries(parsed as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) {
        throw new InputError(`${file}: __metadata__ must be an object`);
      }
      metadata = entry as Record<string, unknown>;
      continue;
    }
    const where = `${file}: tensor "${name}"`;
    if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) throw new InputError(`${where}: entry must be an object`);
    const { dtype, shape, data_offsets: offsets } = entry as Record<string, unknown>;
    if (typeof dtype !== 'string') throw new InputError(`${where}: missing dtype`);
    if (!(dtype in DTYPE_BYTES)) {
      throw new InputError(`${where}: dtype ${dtype} is not supported (expected F32, F16 or BF16)`);
    }
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      throw new InputError(`${where}: shape must be a list of non-negative integers, got ${JSON.stringify(shape)}`);
    }
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => Number.isSafeInteger(o) && o >= 0) || offsets[0] > offsets[1]) {
      throw new InputError(`${where}: data_offsets must be [begin, end] with 0 <= begin <= end, got ${JSON.stringify(offsets)}`);
    }
    const [begin, end] = offsets as [number, number];
    const elementSize = DTYPE_BYTES[dtype as SafetensorsDtype];
    const byteLength = (shape as number[]).reduce((a, d) => a * d, 1) * elementSize;
    if (byteLength !== end - begin) {
      throw new InputError(
        `${where}: shape ${JSON.stringify(shape)} of ${dtype} needs ${byteLength} bytes but data_offsets [${begin}, ${end}] span ${end - begin}`,
      );
    }
    if (dataStart + end > fileSize) {
      throw new InputError(
        `${where}: data ends at byte ${dataStart + end}, past the end of the file (${fileSize} bytes): truncated file?`,
      );
    }
    tensors.push({ name, dtype: dtype as SafetensorsDtype, shape: shape as number[], file, offset: dataStart + begin, byteLength, begin, end });
  }

  tensors.sort((a, b) => a.begin - b.begin || a.end - b.end);
  for (let i = 1; i < tensors.length; i++) {
    const [prev, cur] = [tensors[i - 1], tensors[i]];
    if (cur.begin < prev.end) {
      throw new InputError(`${file}: tensors "${prev.name}" [${prev.begin}, ${prev.end}) and "${cur.name}" [${cur.begin}, ${cur.end}) overlap`);
    }
  }
  return {
    file,
    fileSize,
    headerLength,
    metadata,
    tensors: tensors.map(({ name, dtype, shape, file: f, offset, byteLength }) => ({ name, dtype, shape, file: f, offset, byteLength })),
  };
}

/** One tensor to be written: its bytes follow the header in the order given. */
export interface SafetensorsEntry {
  name: string;
  dtype: SafetensorsDtype;
  shape: number[];
}

/** A header entry: U8 only in the engine's own caches (quantized weights), never in a model folder. */
export interface HeaderEntry {
  name: string;
  dtype: SafetensorsDtype | 'U8';
  shape: readonly number[];
}

const ENTRY_BYTES: Record<HeaderEntry['dtype'], number> = { ...DTYPE_BYTES, U8: 1 };

/**
 * The 8-byte length and JSON header for tensors laid out back to back in the given order. The JSON is
 * padded with spaces to a multiple of 8 bytes (as the safetensors library does) so data stays aligned.
 */
export function encodeSafetensorsHeader(entries: readonly HeaderEntry[], metadata?: Record<string, string>): Buffer {
  const header: Record<string, unknown> = {};
  if (metadata) header.__metadata__ = metadata;
  let offset = 0;
  for (const { name, dtype, shape } of entries) {
    const size = shape.reduce((a, d) => a * d, 1) * ENTRY_BYTES[dtype];
    header[name] = { dtype, shape, data_offsets: [offset, offset + size] };
    offset += size;
  }
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  const padded = Buffer.alloc(Math.ceil(json.length / 8) * 8, ' ');
  json.copy(padded);
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(padded.length));
  return Buffer.concat([length, padded]);
}

/** Reads `length` bytes at `position`, or an InputError saying the file is truncated. */
export async function readExactly(handle: FileHandle, position: number, length: number, file: string): Promise<Buffer> {
  const buffer = Buffer.alloc(length);
  let done = 0;
  while (done < length) {
    const { bytesRead } = await handle.read(buffer, done, length - done, position + done);
    if (bytesRead === 0) throw new InputError(`${file}: truncated: expected ${length} bytes at offset ${position}, found ${done}`);
    done += bytesRead;
  }
  return buffer;
}
