/**
 * Shared tools of the ONNX builder tests: a seeded generator, plain-loop reference arrays that the
 * op tests compare onnxruntime against, and a central-finite-difference gradient checker.
 */
import assert from 'node:assert/strict';
import * as os from 'node:os';
import { gradients } from '../../../src/engine/onnx/autodiff';
import { DType, GraphBuilder, Shape, Tensor } from '../../../src/engine/onnx/graph';
import { mul, reduceSum, reshape } from '../../../src/engine/onnx/ops';
import { serializeModel } from '../../../src/engine/onnx/serialize';
import { createSession, HostTensor, runSession } from '../../../src/engine/runtime/session';

/** mulberry32: a small seeded generator, so that failures reproduce. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A plain n-d array of float64 values in row-major order. */
export interface Nd {
  shape: number[];
  data: Float64Array;
}

export function nd(shape: number[], data: ArrayLike<number>): Nd {
  assert.equal(data.length, size(shape), `nd: ${data.length} values for shape [${shape}]`);
  return { shape, data: Float64Array.from(data) };
}

export function size(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** Uniform values in [lo, hi). */
export function uniform(r: () => number, shape: number[], lo = -1, hi = 1): Nd {
  return nd(shape, Array.from({ length: size(shape) }, () => lo + (hi - lo) * r()));
}

function strides(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length).fill(1);
  for (let i = shape.length - 2; i >= 0; i--) s[i] = s[i + 1] * shape[i + 1];
  return s;
}

function unravel(i: number, shape: readonly number[]): number[] {
  const idx = new Array<number>(shape.length);
  for (let k = shape.length - 1; k >= 0; k--) {
    idx[k] = i % shape[k];
    i = Math.floor(i / shape[k]);
  }
  return idx;
}

/** Builds a new array of `shape` whose element at each multi-index is f(index). */
export function fromIndex(shape: number[], f: (idx: number[]) => number): Nd {
  const n = size(shape);
  const data = new Float64Array(n);
  for (let i = 0; i < n; i++) data[i] = f(unravel(i, shape));
  return { shape, data };
}

export function at(a: Nd, idx: readonly number[]): number {
  const s = strides(a.shape);
  let o = 0;
  for (let k = 0; k < idx.length; k++) o += idx[k] * s[k];
  return a.data[o];
}

/** Element of `a` for a multi-index of a broadcast result (numpy rules). */
function atBroadcast(a: Nd, idx: readonly number[]): number {
  const lead = idx.length - a.shape.length;
  return at(a, a.shape.map((d, k) => (d === 1 ? 0 : idx[k + lead])));
}

export function broadcastShape(a: readonly number[], b: readonly number[]): number[] {
  const r = Math.max(a.length, b.length);
  return Array.from({ length: r }, (_, i) => {
    const da = a[i - (r - a.length)] ?? 1;
    const db = b[i - (r - b.length)] ?? 1;
    return da === 1 ? db : da;
  });
}

export function zip(a: Nd, b: Nd, f: (x: number, y: number) => number): Nd {
  return fromIndex(broadcastShape(a.shape, b.shape), (i) => f(atBroadcast(a, i), atBroadcast(b, i)));
}

export function map(a: Nd, f: (x: number) => number): Nd {
  return { shape: a.shape, data: a.data.map(f) };
}

export function matmulRef(a: Nd, b: Nd): Nd {
  const [m, k] = a.shape.slice(-2);
  const n = b.shape[b.shape.length - 1];
  const batch = broadcastShape(a.shape.slice(0, -2), b.shape.slice(0, -2));
  return fromIndex([...batch, m, n], (idx) => {
    const bi = idx.slice(0, -2);
    const [i, j] = idx.slice(-2);
    let s = 0;
    for (let p = 0; p < k; p++) s += atBroadcast(a, [...bi, i, p]) * atBroadcast(b, [...bi, p, j]);
    return s;
  });
}

export function transposeRef(a: Nd, perm: number[]): Nd {
  return fromIndex(
    perm.map((p) => a.shape[p]),
    (idx) => {
      const src = new Array<number>(perm.length);
      perm.forEach((p, k) => (src[p] = idx[k]));
      return at(a, src);
    },
  );
}

/** Reduces over `axes` with `f` starting from `init`; keepdims as in ONNX. */
export function reduceRef(a: Nd, axes: number[], keepdims: boolean, f: (acc: number, x: number) => number, init: number): Nd {
  const kept = a.shape.map((d, i) => (axes.includes(i) ? 1 : d));
  const out = fromIndex(kept, () => init);
  for (let i = 0; i < a.data.length; i++) {
    const idx = unravel(i, a.shape).map((v, k) => (axes.includes(k) ? 0 : v));
    const o = idx.reduce((acc, v, k) => acc * kept[k] + v, 0);
    out.data[o] = f(out.data[o], a.data[i]);
  }
  return keepdims ? out : { shape: a.shape.filter((_, i) => !axes.includes(i)), data: out.data };
}

export function sliceRef(a: Nd, axis: number, start: number, end: number): Nd {
  const shape = a.shape.map((d, i) => (i === axis ? end - start : d));
  return fromIndex(shape, (idx) => at(a, idx.map((v, k) => (k === axis ? v + start : v))));
}

export function concatRef(parts: Nd[], axis: number): Nd {
  const shape = parts[0].shape.map((d, i) => (i === axis ? parts.reduce((s, p) => s + p.shape[axis], 0) : d));
  return fromIndex(shape, (idx) => {
    let j = idx[axis];
    for (const p of parts) {
      if (j < p.shape[axis]) return at(p, idx.map((v, k) => (k === axis ? j : v)));
      j -= p.shape[axis];
    }
    throw new Error('concatRef: index out of range');
  });
}

// ---------------------------------------------------------------- running graphs

export const f64 = (a: Nd): HostTensor => ({ dtype: 'float64', data: Float64Array.from(a.data), dims: a.shape });
export const f32 = (a: Nd): HostTensor => ({ dtype: 'float32', data: Float32Array.from(a.data), dims: a.shape });

/** Serialises `g` and runs it once on CPU. */
export async function runGraph(g: GraphBuilder, feeds: Record<string, HostTensor>, externalDataDir = os.tmpdir()): Promise<Record<string, HostTensor>> {
  const bytes = serializeModel(g, { externalDataDir });
  const { session } = await createSession({ bytes, externalDataDir }, { device: 'cpu' });
  try {
    return await runSession(session, feeds);
  } finally {
    await session.release();
  }
}

/** A host tensor's values as an Nd (bools as 0/1, int64 as numbers). */
export function toNd(t: HostTensor): Nd {
  assert.notEqual(t.dtype, 'float16', 'toNd: float16 outputs are not expected here');
  return nd([...t.dims], Array.from(t.data as ArrayLike<number | bigint>, Number));
}

/** Asserts |actual - expected| <= atol + rtol * |expected| elementwise, with equal shapes. */
export function assertClose(actual: Nd, expected: Nd, atol: number, rtol: number, what: string): void {
  assert.deepEqual(actual.shape, expected.shape, `${what}: shape`);
  for (let i = 0; i < expected.data.length; i++) {
    const e = expected.data[i];
    const a = actual.data[i];
    const ok = Math.abs(a - e) <= atol + rtol * Math.abs(e) || (Number.isNaN(e) && Number.isNaN(a));
    assert.ok(ok, `${what}: element ${i} is ${a}, expected ${e} (atol ${atol}, rtol ${rtol})`);
  }
}

// ---------------------------------------------------------------- gradient checks

export interface GradCheckOptions {
  eps?: number;
  tol?: number;
  seed?: number;
  /** The output's actual shape when the graph's is symbolic. */
  outShape?: number[];
  /**
   * The graph's dtype (default float64). float32 checks an op whose float32 graph emits other nodes
   * (onnxruntime's float32-only kernels); it needs a larger eps and tol.
   */
  dtype?: 'float32' | 'float64';
}

export interface GradInput {
  values: Nd;
  /** Declared shape in the graph (symbolic dims allowed); default the values' shape. */
  shape?: Shape;
  /** Not differentiated (e.g. int64 indices, bool masks); fed as this dtype. */
  fixed?: DType;
}

/**
 * Checks d loss / d input for every float input against central finite differences in float64,
 * where loss = sum(build(inputs) * R) for a fixed random R (so every output element matters with
 * a different weight). eps 1e-6; passes when |analytic - numeric| <= tol * max(1, |analytic|).
 */
export async function checkGradients(
  name: string,
  inputs: GradInput[],
  build: (xs: Tensor[]) => Tensor,
  options: GradCheckOptions = {},
): Promise<void> {
  const eps = options.eps ?? 1e-6;
  const tol = options.tol ?? 1e-6;
  const dtype = options.dtype ?? 'float64';
  const g = new GraphBuilder({ computeDtype: dtype });
  const xs = inputs.map((inp, i) => g.input(`x${i}`, inp.fixed ?? dtype, inp.shape ?? inp.values.shape));
  const built = build(xs);
  // A symbolic output is reshaped to the static shape it has for these inputs, so that R can be a constant.
  const y = options.outShape ? reshape(built, options.outShape) : built;
  const yShape = y.shape.map((d) => {
    if (typeof d !== 'number') throw new Error(`${name}: checkGradients needs a static output shape (outShape), got ${y}`);
    return d;
  });
  const weights = uniform(rng(options.seed ?? 7), yShape, 0.5, 1.5);
  const loss = reduceSum(mul(y, g.constant(weights.data, dtype, yShape)), yShape.map((_, i) => i));
  const wrt = xs.filter((_, i) => !inputs[i].fixed);
  const grads = gradients(g, loss, wrt);
  g.output('loss', loss);
  grads.forEach((gr, i) => g.output(`grad${i}`, gr));
  const bytes = serializeModel(g, { externalDataDir: os.tmpdir() });
  const { session } = await createSession({ bytes }, { device: 'cpu' });
  const feed = (vals: Nd[]) =>
    Object.fromEntries(vals.map((v, i) => [`x${i}`, hostOf(v, inputs[i].fixed, dtype)] as [string, HostTensor]));
  try {
    const base = inputs.map((inp) => inp.values);
    const analytic = await runSession(session, feed(base));
    let k = 0;
    for (let i = 0; i < inputs.length; i++) {
      if (inputs[i].fixed) continue;
      const gr = toNd(analytic[`grad${k++}`]);
      assert.deepEqual(gr.shape, inputs[i].values.shape, `${name}: gradient shape of input ${i}`);
      for (let j = 0; j < gr.data.length; j++) {
        const lossAt = async (delta: number) => {
          const moved = base.map((v, m) => (m === i ? { shape: v.shape, data: v.data.map((x, n) => (n === j ? x + delta : x)) } : v));
          return (await runSession(session, feed(moved), ['loss'])).loss.data[0] as number;
        };
        const numeric = ((await lossAt(eps)) - (await lossAt(-eps))) / (2 * eps);
        const a = gr.data[j];
        assert.ok(
          Math.abs(a - numeric) <= tol * Math.max(1, Math.abs(a)),
          `${name}: d loss / d x${i}[${j}] is ${a}, central difference gives ${numeric}`,
        );
      }
    }
  } finally {
    await session.release();
  }
}

function hostOf(v: Nd, fixed: DType | undefined, dtype: 'float32' | 'float64'): HostTensor {
  if (fixed === 'int64') return { dtype: 'int64', data: BigInt64Array.from(v.data, (x) => BigInt(x)), dims: v.shape };
  if (fixed === 'bool') return { dtype: 'bool', data: Uint8Array.from(v.data), dims: v.shape };
  return dtype === 'float32' ? { dtype: 'float32', data: Float32Array.from(v.data), dims: v.shape } : f64(v);
}
