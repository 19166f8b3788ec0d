/**
 * onnxruntime sessions with device selection (auto | cuda | cpu) and run helpers that take and
 * return plain typed arrays. CUDA is tried first for auto and cuda: onnxruntime fails at session
 * creation when the CUDA provider libraries are absent and does not fall back by itself, so the
 * fallback to CPU is done here and its reason reported.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as ort from 'onnxruntime-node';

export type Device = 'auto' | 'cuda' | 'cpu';

/** A compiled model: a file path, or bytes whose external data is read from `externalDataDir`. */
export type ModelSource = string | { bytes: Uint8Array; externalDataDir?: string };

export interface OpenedSession {
  session: ort.InferenceSession;
  /** Where it runs. */
  device: 'cuda' | 'cpu';
  /** Why it runs on CPU although CUDA was tried (absent otherwise). */
  fallbackReason?: string;
}

export interface SessionOptions {
  device?: Device;
  /** CPU intra-op threads (onnxruntime's default when absent). */
  intraOpNumThreads?: number;
  /** One of onnxruntime's graph optimizers to leave out, by name (one is all its option takes). */
  disabledOptimizer?: string;
  /**
   * false: no CPU memory arena, so what a run allocates goes back to the system after it (the arena
   * keeps the largest run's memory for the session's life). Default true.
   */
  memoryArena?: boolean;
  /**
   * false: kernels read constant weights where they lie instead of packing a copy of each at session
   * creation (`session.disable_prepacking`). Default true.
   */
  prepacking?: boolean;
}

/** Opens a session on the requested device, falling back to CPU with a reason when CUDA fails. */
export async function createSession(model: ModelSource, options: SessionOptions = {}): Promise<OpenedSession> {
  const device = options.device ?? 'auto';
  if (device === 'cpu') return { session: await open(model, ['cpu'], options), device: 'cpu' };
  let why = missingCudaProvider();
  if (why === null) {
    try {
      return { session: await open(model, ['cuda'], options), device: 'cuda' };
    } catch (e) {
      why = firstLine(e instanceof Error ? e.message : String(e));
    }
  }
  const fallbackReason =
    device === 'cuda' ? `CUDA was requested but is unavailable (${why}); running on CPU instead` : `CUDA unavailable (${why}); running on CPU`;
  return { session: await open(model, ['cpu'], options), device: 'cpu', fallbackReason };
}

/**
 * Why onnxruntime-node cannot have a CUDA provider here, when that is known without trying (a try
 * would also print onnxruntime's own error): on Linux the provider is a library next to the
 * binding that the package's install script downloads. Null when it may work.
 */
export function missingCudaProvider(): string | null {
  if (process.platform !== 'linux') return process.platform === 'win32' ? null : `no CUDA build of onnxruntime for ${process.platform}`;
  let binDir: string;
  try {
    binDir = path.join(path.dirname(require.resolve('onnxruntime-node/package.json')), 'bin', 'napi-v6', process.platform, process.arch);
  } catch {
    return null;
  }
  const lib = path.join(binDir, 'libonnxruntime_providers_cuda.so');
  return fs.existsSync(lib)
    ? null
    : `onnxruntime-node's CUDA provider is not installed (no ${lib}; its install script downloads it on linux x64 unless ONNXRUNTIME_NODE_INSTALL=skip)`;
}

function firstLine(s: string): string {
  const line = s.split('\n')[0].trim();
  return line.length > 300 ? `${line.slice(0, 300)}...` : line;
}

async function open(model: ModelSource, providers: string[], options: SessionOptions): Promise<ort.InferenceSession> {
  const so: ort.InferenceSession.SessionOptions = {
    executionProviders: providers,
    graphOptimizationLevel: 'all',
  };
  if (options.intraOpNumThreads !== undefined) so.intraOpNumThreads = options.intraOpNumThreads;
  if (options.memoryArena === false) so.enableCpuMemArena = false;
  const session: Record<string, string> = {};
  if (options.prepacking === false) session.disable_prepacking = '1';
  // A model held in memory has no folder of its own: tell onnxruntime where its external data lies.
  if (typeof model !== 'string' && model.externalDataDir !== undefined) session.model_external_initializers_file_folder_path = model.externalDataDir;
  so.extra = { session, ...(options.disabledOptimizer === undefined ? {} : { optimization: { disable_specified_optimizers: options.disabledOptimizer } }) };
  return typeof model === 'string' ? ort.InferenceSession.create(model, so) : ort.InferenceSession.create(model.bytes, so);
}

/** Element types that cross the JS boundary (no bfloat16: the JS API cannot feed it). */
export type HostDType = 'float32' | 'float64' | 'int64' | 'bool' | 'float16';

/** A tensor in host memory: bool as Uint8Array (0/1), float16 as Uint16Array bits. */
export type HostTensor =
  | { dtype: 'float32'; data: Float32Array; dims: readonly number[] }
  | { dtype: 'float64'; data: Float64Array; dims: readonly number[] }
  | { dtype: 'int64'; data: BigInt64Array; dims: readonly number[] }
  | { dtype: 'bool'; data: Uint8Array; dims: readonly number[] }
  | { dtype: 'float16'; data: Uint16Array; dims: readonly number[] };

export const f32 = (data: ArrayLike<number>, dims: readonly number[]): HostTensor => ({ dtype: 'float32', data: Float32Array.from(data), dims });
export const f64 = (data: ArrayLike<number>, dims: readonly number[]): HostTensor => ({ dtype: 'float64', data: Float64Array.from(data), dims });
export const i64 = (data: ArrayLike<number | bigint>, dims: readonly number[]): HostTensor => ({
  dtype: 'int64',
  data: BigInt64Array.from(Array.from(data), (v) => BigInt(v)),
  dims,
});
export const bool = (data: ArrayLike<number | boolean>, dims: readonly number[]): HostTensor => ({
  dtype: 'bool',
  data: Uint8Array.from(Array.from(data), (v) => (v ? 1 : 0)),
  dims,
});

/** Runs `session` on `feeds` and returns the requested outputs (all by default) as host tensors. */
export async function runSession(
  session: ort.InferenceSession,
  feeds: Readonly<Record<string, HostTensor>>,
  fetches?: readonly string[],
): Promise<Record<string, HostTensor>> {
  const ortFeeds: Record<string, ort.Tensor> = {};
  for (const [name, t] of Object.entries(feeds)) ortFeeds[name] = new ort.Tensor(t.dtype, t.data, t.dims);
  const results = fetches ? await session.run(ortFeeds, fetches as string[]) : await session.run(ortFeeds);
  const out: Record<string, HostTensor> = {};
  for (const [name, t] of Object.entries(results)) out[name] = toHost(name, t);
  return out;
}

function toHost(name: string, t: ort.Tensor): HostTensor {
  const dims = [...t.dims];
  switch (t.type) {
    case 'float32':
      return { dtype: 'float32', data: t.data as Float32Array, dims };
    case 'float64':
      return { dtype: 'float64', data: t.data as Float64Array, dims };
    case 'int64':
      return { dtype: 'int64', data: t.data as BigInt64Array, dims };
    case 'bool':
      return { dtype: 'bool', data: t.data as Uint8Array, dims };
    case 'float16':
      return { dtype: 'float16', data: t.data as Uint16Array, dims };
    default:
      throw new Error(`output '${name}': element type ${t.type} is not supported`);
  }
}
