/**
 * The head of a GGUF v3 file (ggml's docs/gguf.md) with the value types a model file needs (arrays of
 * strings, floats and ints for the vocabulary), and the tensor infos of data written after it. The
 * project's own writer (src/engine/gguf/ggufFile.ts) holds whole F32 tensors in memory, which suits
 * control vectors but not 5 GB of quantized weights, so the data here is streamed by the caller.
 */
import { GGUF_DEFAULT_ALIGNMENT, GGUF_MAGIC, GGUF_VERSION, GgufType } from '../../src/engine/gguf/ggufFile';

export type GgufMetadata =
  | { key: string; type: 'string'; value: string }
  | { key: string; type: 'uint32' | 'float32'; value: number }
  | { key: string; type: 'strings'; value: readonly string[] }
  | { key: string; type: 'float32s' | 'int32s'; value: ArrayLike<number> };

export interface GgufTensorInfo {
  name: string;
  /** ggml order: the first dimension varies fastest. */
  dims: number[];
  ggmlType: number;
  byteLength: number;
}

/** Little-endian fields appended to chunks, joined at the end. */
class Chunks {
  private parts: Uint8Array[] = [];
  length = 0;

  private push(bytes: Uint8Array): void {
    this.parts.push(bytes);
    this.length += bytes.length;
  }
  fixed(size: number, write: (view: DataView) => void): void {
    const bytes = new Uint8Array(size);
    write(new DataView(bytes.buffer));
    this.push(bytes);
  }
  u32(x: number): void {
    this.fixed(4, (v) => v.setUint32(0, x, true));
  }
  u64(x: number): void {
    this.fixed(8, (v) => v.setBigUint64(0, BigInt(x), true));
  }
  string(s: string): void {
    const utf8 = new TextEncoder().encode(s);
    this.u64(utf8.length);
    this.push(utf8);
  }
  typed(type: number, values: ArrayLike<number>, size: number, write: (view: DataView, at: number, x: number) => void): void {
    this.u32(type);
    this.u64(values.length);
    this.fixed(values.length * size, (v) => {
      for (let i = 0; i < values.length; i++) write(v, i * size, values[i]);
    });
  }
  padTo(alignment: number): void {
    this.push(new Uint8Array((alignment - (this.length % alignment)) % alignment));
  }
  join(): Uint8Array {
    return Buffer.concat(this.parts);
  }
}

/** The header bytes (padded to the alignment: tensor data starts right after) and each tensor's offset in the file. */
export function encodeGgufHeader(metadata: readonly GgufMetadata[], tensors: readonly GgufTensorInfo[]): { header: Uint8Array; offsets: number[] } {
  const c = new Chunks();
  c.fixed(4, (v) => new TextEncoder().encode(GGUF_MAGIC).forEach((b, i) => v.setUint8(i, b)));
  c.u32(GGUF_VERSION);
  c.u64(tensors.length);
  c.u64(metadata.length);
  for (const m of metadata) {
    c.string(m.key);
    switch (m.type) {
      case 'string':
        c.u32(GgufType.string);
        c.string(m.value);
        break;
      case 'uint32':
        c.u32(GgufType.uint32);
        c.u32(m.value);
        break;
      case 'float32':
        c.u32(GgufType.float32);
        c.fixed(4, (v) => v.setFloat32(0, m.value, true));
        break;
      case 'strings':
        c.u32(GgufType.array);
        c.u32(GgufType.string);
        c.u64(m.value.length);
        for (const s of m.value) c.string(s);
        break;
      case 'float32s':
        c.u32(GgufType.array);
        c.typed(GgufType.float32, m.value, 4, (v, at, x) => v.setFloat32(at, x, true));
        break;
      case 'int32s':
        c.u32(GgufType.array);
        c.typed(GgufType.int32, m.value, 4, (v, at, x) => v.setInt32(at, x, true));
        break;
    }
  }
  const relative: number[] = [];
  let offset = 0;
  for (const t of tensors) {
    c.string(t.name);
    c.u32(t.dims.length);
    for (const d of t.dims) c.u64(d);
    c.u32(t.ggmlType);
    c.u64(offset);
    relative.push(offset);
    offset += Math.ceil(t.byteLength / GGUF_DEFAULT_ALIGNMENT) * GGUF_DEFAULT_ALIGNMENT;
  }
  c.padTo(GGUF_DEFAULT_ALIGNMENT);
  const header = c.join();
  return { header, offsets: relative.map((o) => header.length + o) };
}
