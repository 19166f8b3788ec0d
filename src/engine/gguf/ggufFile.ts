/**
 * GGUF version 3 files (ggml's docs/gguf.md), little-endian, as far as control vectors need them: metadata
 * of every value type is read (other tools add their own keys), tensors are F32.
 *
 * Layout: "GGUF", uint32 version, uint64 tensor count, uint64 metadata count; the metadata (a string key,
 * a uint32 value type, the value); the tensor infos (a string name, uint32 dimension count, uint64
 * dimensions, uint32 ggml type, uint64 offset from the start of the data); zero padding to the alignment
 * (`general.alignment`, default 32); the tensor data, each tensor at a multiple of the alignment.
 * A string is a uint64 byte length and UTF-8 bytes without a terminator.
 */
import { InputError } from '../errors';

export const GGUF_MAGIC = 'GGUF';
export const GGUF_VERSION = 3;
export const GGUF_DEFAULT_ALIGNMENT = 32;
/** ggml_type of float32 tensors. */
export const GGML_TYPE_F32 = 0;

/** gguf_type: the metadata value types. */
export const GgufType = {
  uint8: 0,
  int8: 1,
  uint16: 2,
  int16: 3,
  uint32: 4,
  int32: 5,
  float32: 6,
  bool: 7,
  string: 8,
  array: 9,
  uint64: 10,
  int64: 11,
  float64: 12,
} as const;

export type GgufScalarType = Exclude<keyof typeof GgufType, 'array'>;

/** A metadata value as read; 64-bit integers come as bigint. */
export type GgufValue = string | number | bigint | boolean | GgufValue[];

/** A metadata entry to write. */
export type GgufEntry = { key: string; type: 'string'; value: string } | { key: string; type: 'uint32' | 'int32' | 'float32'; value: number };

export interface GgufTensor {
  name: string;
  /** ggml order: the first dimension varies fastest. */
  dims: number[];
  data: Float32Array;
}

export interface GgufFile {
  version: number;
  metadata: Map<string, { type: keyof typeof GgufType; value: GgufValue }>;
  tensors: GgufTensor[];
}

// ---------------------------------------------------------------- writing

/** Appends little-endian fields to a growing byte buffer. */
class ByteWriter {
  private bytes = new Uint8Array(1024);
  private view = new DataView(this.bytes.buffer);
  length = 0;

  /** The offset of `n` new bytes at the end. Callers read this.bytes and this.view only after it: it may replace them. */
  private reserve(n: number): number {
    if (this.length + n > this.bytes.length) {
      const grown = new Uint8Array(Math.max(this.bytes.length * 2, this.length + n));
      grown.set(this.bytes);
      this.bytes = grown;
      this.view = new DataView(grown.buffer);
    }
    const at = this.length;
    this.length += n;
    return at;
  }

  u32(x: number): void {
    const at = this.reserve(4);
    this.view.setUint32(at, x, true);
  }
  i32(x: number): void {
    const at = this.reserve(4);
    this.view.setInt32(at, x, true);
  }
  f32(x: number): void {
    const at = this.reserve(4);
    this.view.setFloat32(at, x, true);
  }
  u64(x: number): void {
    const at = this.reserve(8);
    this.view.setBigUint64(at, BigInt(x), true);
  }
  raw(data: Uint8Array): void {
    const at = this.reserve(data.length);
    this.bytes.set(data, at);
  }
  string(s: string): void {
    const utf8 = new TextEncoder().encode(s);
    this.u64(utf8.length);
    this.raw(utf8);
  }
  padTo(alignment: number): void {
    this.reserve((alignment - (this.length % alignment)) % alignment);
  }
  result(): Uint8Array {
    return this.bytes.slice(0, this.length);
  }
}

/** A GGUF v3 file of the metadata (in order) and F32 tensors (in order), with the default alignment. */
export function encodeGguf(metadata: readonly GgufEntry[], tensors: readonly GgufTensor[]): Uint8Array {
  const w = new ByteWriter();
  w.raw(new TextEncoder().encode(GGUF_MAGIC));
  w.u32(GGUF_VERSION);
  w.u64(tensors.length);
  w.u64(metadata.length);
  for (const entry of metadata) {
    w.string(entry.key);
    w.u32(GgufType[entry.type]);
    if (entry.type === 'string') w.string(entry.value);
    else if (entry.type === 'uint32') w.u32(entry.value);
    else if (entry.type === 'int32') w.i32(entry.value);
    else w.f32(entry.value);
  }
  let offset = 0;
  for (const t of tensors) {
    if (t.data.length !== t.dims.reduce((a, b) => a * b, 1)) throw new Error(`tensor ${t.name}: ${t.data.length} values for dimensions [${t.dims.join(', ')}]`);
    w.string(t.name);
    w.u32(t.dims.length);
    for (const d of t.dims) w.u64(d);
    w.u32(GGML_TYPE_F32);
    w.u64(offset);
    offset += alignUp(t.data.byteLength, GGUF_DEFAULT_ALIGNMENT);
  }
  w.padTo(GGUF_DEFAULT_ALIGNMENT);
  for (const t of tensors) {
    const bytes = new Uint8Array(t.data.length * 4);
    const view = new DataView(bytes.buffer);
    t.data.forEach((x, i) => view.setFloat32(i * 4, x, true));
    w.raw(bytes);
    w.padTo(GGUF_DEFAULT_ALIGNMENT);
  }
  return w.result();
}

function alignUp(n: number, alignment: number): number {
  return Math.ceil(n / alignment) * alignment;
}

// ---------------------------------------------------------------- reading

/** Reads little-endian fields, with an InputError naming the file when it ends early. */
class ByteReader {
  private readonly view: DataView;
  at = 0;

  constructor(
    private readonly bytes: Uint8Array,
    private readonly source: string,
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  private take(n: number, what: string): number {
    if (this.at + n > this.bytes.length) throw new InputError(`${this.source}: the file ends inside ${what} (byte ${this.at} of ${this.bytes.length})`);
    const at = this.at;
    this.at += n;
    return at;
  }

  u32(what: string): number {
    return this.view.getUint32(this.take(4, what), true);
  }
  u64(what: string): number {
    const at = this.take(8, what);
    const value = this.view.getBigUint64(at, true);
    if (value > BigInt(Number.MAX_SAFE_INTEGER)) throw new InputError(`${this.source}: ${what} is ${value}, too large`);
    return Number(value);
  }
  string(what: string): string {
    const length = this.u64(`the length of ${what}`);
    const at = this.take(length, what);
    try {
      return new TextDecoder('utf-8', { fatal: true }).decode(this.bytes.subarray(at, at + length));
    } catch {
      throw new InputError(`${this.source}: ${what} is not UTF-8`);
    }
  }

  scalar(type: GgufScalarType, what: string): GgufValue {
    const v = this.view;
    switch (type) {
      case 'uint8':
        return v.getUint8(this.take(1, what));
      case 'int8':
        return v.getInt8(this.take(1, what));
      case 'uint16':
        return v.getUint16(this.take(2, what), true);
      case 'int16':
        return v.getInt16(this.take(2, what), true);
      case 'uint32':
        return v.getUint32(this.take(4, what), true);
      case 'int32':
        return v.getInt32(this.take(4, what), true);
      case 'float32':
        return v.getFloat32(this.take(4, what), true);
      case 'bool':
        return v.getUint8(this.take(1, what)) !== 0;
      case 'string':
        return this.string(what);
      case 'uint64':
        return v.getBigUint64(this.take(8, what), true);
      case 'int64':
        return v.getBigInt64(this.take(8, what), true);
      case 'float64':
        return v.getFloat64(this.take(8, what), true);
    }
  }

  float32s(at: number, count: number, what: string): Float32Array {
    if (at + count * 4 > this.bytes.length) throw new InputError(`${this.source}: ${what} lies beyond the end of the file`);
    return Float32Array.from({ length: count }, (_, i) => this.view.getFloat32(at + i * 4, true));
  }
}

const TYPE_NAMES = Object.fromEntries(Object.entries(GgufType).map(([name, code]) => [code, name])) as Record<number, keyof typeof GgufType>;

function valueType(code: number, source: string, what: string): keyof typeof GgufType {
  const type = TYPE_NAMES[code];
  if (type === undefined) throw new InputError(`${source}: ${what} has value type ${code}, not a GGUF type`);
  return type;
}

/** Parses a GGUF v3 file; every tensor must be F32. */
export function decodeGguf(bytes: Uint8Array, source: string): GgufFile {
  const r = new ByteReader(bytes, source);
  if (bytes.length < 4 || new TextDecoder().decode(bytes.subarray(0, 4)) !== GGUF_MAGIC) throw new InputError(`${source} is not a GGUF file (it does not start with "GGUF")`);
  r.at = 4;
  const version = r.u32('the version');
  if (version !== GGUF_VERSION) {
    const hint = version > 0xffff ? ' (a big-endian file?)' : '';
    throw new InputError(`${source}: GGUF version ${version}${hint}; only little-endian version ${GGUF_VERSION} is read`);
  }
  const tensorCount = r.u64('the tensor count');
  const kvCount = r.u64('the metadata count');
  const metadata: GgufFile['metadata'] = new Map();
  for (let i = 0; i < kvCount; i++) {
    const key = r.string(`metadata key ${i}`);
    const type = valueType(r.u32(`the type of ${key}`), source, key);
    let value: GgufValue;
    if (type === 'array') {
      const itemType = valueType(r.u32(`the item type of ${key}`), source, key);
      if (itemType === 'array') throw new InputError(`${source}: ${key} is an array of arrays, which this reader does not take`);
      const length = r.u64(`the length of ${key}`);
      value = Array.from({ length }, (_, j) => r.scalar(itemType, `${key}[${j}]`));
    } else {
      value = r.scalar(type, key);
    }
    metadata.set(key, { type, value });
  }
  const alignment = metadata.get('general.alignment')?.value ?? GGUF_DEFAULT_ALIGNMENT;
  if (typeof alignment !== 'number' || !Number.isInteger(alignment) || alignment <= 0 || alignment % 8 !== 0) {
    throw new InputError(`${source}: general.alignment is ${String(alignment)}, expected a positive multiple of 8`);
  }
  const infos = Array.from({ length: tensorCount }, (_, i) => {
    const name = r.string(`the name of tensor ${i}`);
    const rank = r.u32(`the dimension count of ${name}`);
    const dims = Array.from({ length: rank }, (_, j) => r.u64(`dimension ${j} of ${name}`));
    const type = r.u32(`the type of ${name}`);
    const offset = r.u64(`the offset of ${name}`);
    if (type !== GGML_TYPE_F32) throw new InputError(`${source}: tensor ${name} has ggml type ${type}; only F32 (${GGML_TYPE_F32}) is read`);
    if (offset % alignment !== 0) throw new InputError(`${source}: tensor ${name} starts at offset ${offset}, not a multiple of the alignment ${alignment}`);
    return { name, dims, offset };
  });
  const dataStart = alignUp(r.at, alignment);
  const tensors = infos.map(({ name, dims, offset }) => ({ name, dims, data: r.float32s(dataStart + offset, dims.reduce((a, b) => a * b, 1), `the data of ${name}`) }));
  return { version, metadata, tensors };
}
