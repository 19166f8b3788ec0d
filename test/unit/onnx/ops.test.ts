/**
 * Every op of the builder, three ways: forward in a float32 graph and in a float64 graph through
 * onnxruntime against a plain-loop float64 computation, and (for differentiable ops) its gradient
 * rule against central finite differences in a float64 graph.
 *
 * Tolerances: float32 forward |a - e| <= 1e-6 + 1e-5 |e| (acos 1e-5 + 1e-5 |e|); float64 forward
 * 1e-12 + 1e-12 |e|; gradients eps 1e-6 with |analytic - numeric| <= 1e-6 max(1, |analytic|).
 */
import { test } from 'node:test';
import { DType, GraphBuilder, Shape, Tensor } from '../../../src/engine/onnx/graph';
import * as op from '../../../src/engine/onnx/ops';
import { HostTensor } from '../../../src/engine/runtime/session';
import {
  assertClose,
  at,
  checkGradients,
  concatRef,
  f32,
  f64,
  fromIndex,
  GradCheckOptions,
  map,
  matmulRef,
  Nd,
  nd,
  reduceRef,
  rng,
  runGraph,
  sliceRef,
  toNd,
  transposeRef,
  uniform,
  zip,
} from './kit';

interface Input {
  values: Nd;
  /** Declared graph shape (symbolic dims allowed). */
  shape?: Shape;
  /** Fed as this dtype, never differentiated (indices, masks). */
  fixed?: DType;
}

interface Case {
  name: string;
  inputs: Input[];
  build: (xs: Tensor[]) => Tensor;
  ref: (xs: Nd[]) => Nd;
  /** false: no gradient rule to check (comparisons, indices). */
  grad?: false | GradCheckOptions;
  f32Tol?: number;
}

const r = rng(20240601);
const U = (shape: number[], lo = -1, hi = 1) => ({ values: uniform(r, shape, lo, hi) });
/** Values in [lo, hi] kept at least `gap` away from `avoid` (kinks of relu, abs, clip). */
const away = (shape: number[], avoid: number[], gap = 0.05, lo = -1, hi = 1) => {
  const v = uniform(r, shape, lo, hi);
  v.data = v.data.map((x) => (avoid.some((a) => Math.abs(x - a) < gap) ? x + 2 * gap : x));
  return { values: v };
};
const ints = (shape: number[], values: number[]) => ({ values: nd(shape, values), fixed: 'int64' as DType });
const bools = (shape: number[], values: number[]) => ({ values: nd(shape, values), fixed: 'bool' as DType });

const sum = (a: number, b: number) => a + b;
const softmaxRef = (x: Nd, logOf: boolean) => {
  const max = reduceRef(x, [x.shape.length - 1], true, Math.max, -Infinity);
  const e = zip(x, max, (v, m) => Math.exp(v - m));
  const s = reduceRef(e, [x.shape.length - 1], true, sum, 0);
  return logOf ? zip(zip(x, max, (v, m) => v - m), s, (v, t) => v - Math.log(t)) : zip(e, s, (v, t) => v / t);
};
const sigmoidRef = (v: number) => 1 / (1 + Math.exp(-v));

const cases: Case[] = [
  { name: 'add (broadcast both ways)', inputs: [U([2, 1, 3]), U([4, 1])], build: ([a, b]) => op.add(a, b), ref: ([a, b]) => zip(a, b, sum) },
  { name: 'add with a number', inputs: [U([2, 3])], build: ([a]) => op.add(a, 1.5), ref: ([a]) => map(a, (v) => v + 1.5) },
  { name: 'sub (broadcast)', inputs: [U([2, 3]), U([3])], build: ([a, b]) => op.sub(a, b), ref: ([a, b]) => zip(a, b, (x, y) => x - y) },
  { name: 'sub from a number', inputs: [U([3])], build: ([a]) => op.sub(2, a), ref: ([a]) => map(a, (v) => 2 - v) },
  { name: 'mul (broadcast)', inputs: [U([3, 1]), U([2, 1, 4])], build: ([a, b]) => op.mul(a, b), ref: ([a, b]) => zip(a, b, (x, y) => x * y) },
  { name: 'div (broadcast)', inputs: [U([2, 3]), U([2, 1], 0.5, 1.5)], build: ([a, b]) => op.div(a, b), ref: ([a, b]) => zip(a, b, (x, y) => x / y) },
  { name: 'pow by a number', inputs: [U([2, 3], 0.2, 2)], build: ([a]) => op.pow(a, 3), ref: ([a]) => map(a, (v) => v ** 3) },
  { name: 'pow by a tensor (broadcast)', inputs: [U([2, 3], 0.2, 2), U([3], -1, 2)], build: ([a, b]) => op.pow(a, b), ref: ([a, b]) => zip(a, b, (x, y) => x ** y) },
  { name: 'neg', inputs: [U([2, 3])], build: ([a]) => op.neg(a), ref: ([a]) => map(a, (v) => -v) },
  { name: 'exp', inputs: [U([2, 3])], build: ([a]) => op.exp(a), ref: ([a]) => map(a, Math.exp) },
  { name: 'log', inputs: [U([2, 3], 0.3, 3)], build: ([a]) => op.log(a), ref: ([a]) => map(a, Math.log) },
  { name: 'sqrt', inputs: [U([2, 3], 0.3, 3)], build: ([a]) => op.sqrt(a), ref: ([a]) => map(a, Math.sqrt) },
  { name: 'reciprocal', inputs: [U([2, 3], 0.3, 3)], build: ([a]) => op.reciprocal(a), ref: ([a]) => map(a, (v) => 1 / v) },
  { name: 'tanh', inputs: [U([2, 3], -2, 2)], build: ([a]) => op.tanh(a), ref: ([a]) => map(a, Math.tanh) },
  {
    name: 'geluTanh (its own gradient rule)',
    inputs: [U([3, 4], -4, 4)],
    build: ([a]) => op.geluTanh(a),
    ref: ([a]) => map(a, (x) => 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3)))),
  },
  { name: 'relu', inputs: [away([3, 4], [0])], build: ([a]) => op.relu(a), ref: ([a]) => map(a, (v) => Math.max(v, 0)) },
  { name: 'sigmoid', inputs: [U([2, 3], -3, 3)], build: ([a]) => op.sigmoid(a), ref: ([a]) => map(a, sigmoidRef) },
  { name: 'cos', inputs: [U([2, 3], -3, 3)], build: ([a]) => op.cos(a), ref: ([a]) => map(a, Math.cos) },
  { name: 'sin', inputs: [U([2, 3], -3, 3)], build: ([a]) => op.sin(a), ref: ([a]) => map(a, Math.sin) },
  { name: 'abs', inputs: [away([2, 3], [0])], build: ([a]) => op.abs(a), ref: ([a]) => map(a, Math.abs) },
  {
    name: 'clip',
    inputs: [away([3, 4], [-0.5, 0.5])],
    build: ([a]) => op.clip(a, -0.5, 0.5),
    ref: ([a]) => map(a, (v) => Math.min(0.5, Math.max(-0.5, v))),
  },
  { name: 'clip below only', inputs: [away([5], [-0.2])], build: ([a]) => op.clip(a, -0.2), ref: ([a]) => map(a, (v) => Math.max(-0.2, v)) },
  {
    name: 'acos (including the clamp ends +-0.999)',
    inputs: [{ values: nd([8], [-0.999, -0.9, -0.5, -0.1, 0, 0.3, 0.8, 0.999]) }],
    build: ([a]) => op.acos(a),
    ref: ([a]) => map(a, Math.acos),
    f32Tol: 1e-5,
  },
  { name: 'matmul batched', inputs: [U([2, 3, 4]), U([2, 4, 5])], build: ([a, b]) => op.matmul(a, b), ref: ([a, b]) => matmulRef(a, b) },
  { name: 'matmul broadcast batch', inputs: [U([2, 1, 3, 4]), U([3, 4, 2])], build: ([a, b]) => op.matmul(a, b), ref: ([a, b]) => matmulRef(a, b) },
  { name: 'matmul by a 2-D matrix', inputs: [U([2, 3, 4]), U([4, 2])], build: ([a, b]) => op.matmul(a, b), ref: ([a, b]) => matmulRef(a, b) },
  {
    name: 'matmulTransB by a 2-D matrix (float32: FusedMatMul)',
    inputs: [U([2, 3, 4]), U([5, 4])],
    build: ([a, b]) => op.matmulTransB(a, b),
    ref: ([a, b]) => matmulRef(a, transposeRef(b, [1, 0])),
  },
  {
    name: 'matmulTransB batched',
    inputs: [U([2, 3, 4]), U([2, 5, 4])],
    build: ([a, b]) => op.matmulTransB(a, b),
    ref: ([a, b]) => matmulRef(a, transposeRef(b, [0, 2, 1])),
  },
  {
    name: 'transpose',
    inputs: [U([2, 3, 4])],
    build: ([a]) => op.transpose(a, [2, 0, 1]),
    ref: ([a]) => transposeRef(a, [2, 0, 1]),
  },
  { name: 'reshape', inputs: [U([2, 6])], build: ([a]) => op.reshape(a, [3, 2, 2]), ref: ([a]) => nd([3, 2, 2], a.data) },
  {
    name: 'reshape with a symbolic dim',
    inputs: [{ ...U([2, 6]), shape: ['b', 6] }],
    build: ([a]) => op.reshape(a, ['b', 2, 3]),
    ref: ([a]) => nd([2, 2, 3], a.data),
    grad: { outShape: [2, 2, 3] },
  },
  {
    name: 'reshape merging a symbolic dim (read at run time)',
    inputs: [{ ...U([2, 3, 2]), shape: ['b', 3, 2] }],
    build: ([a]) => op.reshape(op.reshape(a, [3, 'b', 2]), ['b', 6]),
    ref: ([a]) => nd([2, 6], a.data),
    grad: { outShape: [2, 6] },
  },
  { name: 'unsqueeze', inputs: [U([2, 3])], build: ([a]) => op.unsqueeze(a, [0, -1]), ref: ([a]) => nd([1, 2, 3, 1], a.data) },
  { name: 'squeeze', inputs: [U([2, 1, 3, 1])], build: ([a]) => op.squeeze(a, [1, 3]), ref: ([a]) => nd([2, 3], a.data) },
  {
    name: 'concat',
    inputs: [U([2, 2]), U([2, 3]), U([2, 1])],
    build: (xs) => op.concat(xs, 1),
    ref: (xs) => concatRef(xs, 1),
  },
  {
    name: 'concat of symbolic dims (KV cache)',
    inputs: [
      { ...U([2, 3]), shape: ['past', 3] },
      { ...U([1, 3]), shape: ['seq', 3] },
    ],
    build: (xs) => op.concat(xs, 0),
    ref: (xs) => concatRef(xs, 0),
    grad: { outShape: [3, 3] },
  },
  { name: 'slice', inputs: [U([3, 5])], build: ([a]) => op.slice(a, 1, 1, 4), ref: ([a]) => sliceRef(a, 1, 1, 4) },
  { name: 'slice negative start to the end', inputs: [U([3, 5])], build: ([a]) => op.slice(a, -1, -2), ref: ([a]) => sliceRef(a, 1, 3, 5) },
  {
    name: 'slice of a symbolic dim from start',
    inputs: [{ ...U([4, 2]), shape: ['s', 2] }],
    build: ([a]) => op.slice(a, 0, 1),
    ref: ([a]) => sliceRef(a, 0, 1, 4),
    grad: { outShape: [3, 2] },
  },
  {
    name: 'slice of a symbolic dim, last k',
    inputs: [{ ...U([4, 2]), shape: ['s', 2] }],
    build: ([a]) => op.slice(a, 0, -2),
    ref: ([a]) => sliceRef(a, 0, 2, 4),
  },
  {
    name: 'slice of a symbolic dim, fixed range',
    inputs: [{ ...U([5, 2]), shape: ['s', 2] }],
    build: ([a]) => op.slice(a, 0, 1, 3),
    ref: ([a]) => sliceRef(a, 0, 1, 3),
  },
  {
    name: 'gather rows (embedding lookup, repeated index)',
    inputs: [U([5, 3]), ints([2, 2], [4, 0, 4, 2])],
    build: ([d, i]) => op.gather(d, i, 0),
    ref: ([d, i]) => fromIndex([2, 2, 3], ([p, q, c]) => at(d, [at(i, [p, q]), c])),
  },
  {
    name: 'gather along a middle axis',
    inputs: [U([2, 4, 3]), ints([3], [3, 1, 3])],
    build: ([d, i]) => op.gather(d, i, 1),
    ref: ([d, i]) => fromIndex([2, 3, 3], ([a, p, c]) => at(d, [a, at(i, [p]), c])),
  },
  {
    name: 'expand',
    inputs: [U([3, 1])],
    build: ([a]) => op.expand(a, [2, 3, 4]),
    ref: ([a]) => fromIndex([2, 3, 4], ([, j]) => at(a, [j, 0])),
  },
  {
    name: 'expand to a symbolic dim of another input',
    inputs: [U([1, 3]), { ...U([2, 1]), shape: ['b', 1] }],
    build: ([a, b]) => op.add(op.expand(a, ['b', 3]), b),
    ref: ([a, b]) => zip(fromIndex([2, 3], ([, j]) => at(a, [0, j])), b, sum),
    grad: { outShape: [2, 3] },
  },
  {
    name: 'where (broadcast)',
    inputs: [bools([2, 3], [1, 0, 1, 0, 0, 1]), U([2, 3]), U([3])],
    build: ([c, a, b]) => op.where(c, a, b),
    ref: ([c, a, b]) => fromIndex([2, 3], ([i, j]) => (at(c, [i, j]) ? at(a, [i, j]) : at(b, [j]))),
  },
  { name: 'reduceSum', inputs: [U([2, 3, 4])], build: ([a]) => op.reduceSum(a, [1]), ref: ([a]) => reduceRef(a, [1], false, sum, 0) },
  {
    name: 'reduceMean keepdims',
    inputs: [U([2, 3, 4])],
    build: ([a]) => op.reduceMean(a, [0, 2], true),
    ref: ([a]) => map(reduceRef(a, [0, 2], true, sum, 0), (v) => v / 8),
  },
  {
    name: 'reduceMean over a symbolic dim',
    inputs: [{ ...U([3, 2]), shape: ['s', 2] }],
    build: ([a]) => op.reduceMean(a, [0]),
    ref: ([a]) => map(reduceRef(a, [0], false, sum, 0), (v) => v / 3),
  },
  { name: 'reduceMax', inputs: [U([3, 4])], build: ([a]) => op.reduceMax(a, [-1]), ref: ([a]) => reduceRef(a, [1], false, Math.max, -Infinity) },
  { name: 'softmax', inputs: [U([2, 5], -3, 3)], build: ([a]) => op.softmax(a), ref: ([a]) => softmaxRef(a, false) },
  { name: 'logSoftmax', inputs: [U([2, 5], -3, 3)], build: ([a]) => op.logSoftmax(a), ref: ([a]) => softmaxRef(a, true) },
  {
    name: 'cast through float32',
    inputs: [U([2, 3])],
    build: ([a]) => op.cast(op.cast(a, a.dtype === 'float64' ? 'float32' : 'float64'), a.dtype),
    ref: ([a]) => map(a, Math.fround),
    grad: { eps: 1e-2, tol: 1e-5 },
  },
  {
    name: 'stopGradient passes values, blocks gradients',
    inputs: [U([3])],
    build: ([a]) => op.add(op.mul(op.stopGradient(a), a), 0),
    ref: ([a]) => map(a, (v) => v * v),
    grad: false,
  },
  {
    name: 'equal / less / greater / and / or / not',
    inputs: [{ values: nd([6], [1, 2, 3, 4, 5, 6]) }, { values: nd([6], [1, 3, 3, 2, 5, 7]) }],
    build: ([a, b]) =>
      op.cast(
        op.logicalOr(op.logicalAnd(op.equal(a, b), op.logicalNot(op.less(a, 2))), op.greater(a, b)),
        'float32',
      ),
    ref: ([a, b]) => zip(a, b, (x, y) => Number((x === y && !(x < 2)) || x > y)),
    grad: false,
  },
  {
    name: 'oneHot',
    inputs: [ints([3], [2, 0, 3])],
    build: ([i]) => op.oneHot(i, 4, 'float32'),
    ref: ([i]) => fromIndex([3, 4], ([p, k]) => Number(at(i, [p]) === k)),
    grad: false,
  },
  {
    name: 'rangeOf a symbolic dim',
    inputs: [{ values: uniform(r, [5, 2]), shape: ['s', 2] }],
    build: ([a]) => op.cast(op.rangeOf(a, 's'), 'float32'),
    ref: () => nd([5], [0, 1, 2, 3, 4]),
    grad: false,
  },
  {
    name: 'NLL of log-softmax picked by oneHot (a loss chain)',
    inputs: [U([3, 5], -2, 2), ints([3], [4, 0, 2])],
    build: ([x, t]) => op.neg(op.reduceMean(op.reduceSum(op.mul(op.logSoftmax(x), op.oneHot(t, 5, x.dtype)), [-1]), [0])),
    ref: ([x, t]) => {
      const lp = softmaxRef(x, true);
      return nd([], [-(at(lp, [0, at(t, [0])]) + at(lp, [1, at(t, [1])]) + at(lp, [2, at(t, [2])])) / 3]);
    },
  },
];

async function forward(c: Case, dtype: 'float32' | 'float64'): Promise<Nd> {
  const g = new GraphBuilder({ computeDtype: dtype });
  const xs = c.inputs.map((inp, i) => g.input(`x${i}`, inp.fixed ?? dtype, inp.shape ?? inp.values.shape));
  g.output('y', c.build(xs));
  const feeds: Record<string, HostTensor> = {};
  c.inputs.forEach((inp, i) => {
    const v = inp.values;
    feeds[`x${i}`] =
      inp.fixed === 'int64'
        ? { dtype: 'int64', data: BigInt64Array.from(v.data, (x) => BigInt(x)), dims: v.shape }
        : inp.fixed === 'bool'
          ? { dtype: 'bool', data: Uint8Array.from(v.data), dims: v.shape }
          : dtype === 'float32'
            ? f32(v)
            : f64(v);
  });
  return toNd((await runGraph(g, feeds)).y);
}

for (const c of cases) {
  test(`${c.name}: float32 forward matches plain loops`, async () => {
    // The reference sees the inputs as float32 would hold them.
    const rounded = c.inputs.map((inp) => (inp.fixed ? inp.values : map(inp.values, Math.fround)));
    const tol = c.f32Tol ?? 1e-6;
    assertClose(await forward(c, 'float32'), c.ref(rounded), tol, 1e-5, c.name);
  });
  test(`${c.name}: float64 forward matches plain loops`, async () => {
    assertClose(await forward(c, 'float64'), c.ref(c.inputs.map((i) => i.values)), 1e-12, 1e-12, c.name);
  });
  if (c.grad !== false) {
    test(`${c.name}: gradient matches central differences`, async () => {
      await checkGradients(c.name, c.inputs, c.build, c.grad || {});
    });
  }
}

// matmulTransB emits FusedMatMul only in float32, so its own gradient rule is checked there (the loss is
// linear in each operand: central differences are exact but for float32 rounding, hence eps and tol).
for (const [name, shapes] of [
  ['by a 2-D matrix', [[2, 3, 4], [5, 4]]],
  ['batched', [[2, 3, 4], [2, 5, 4]]],
] as const) {
  test(`matmulTransB ${name}: float32 gradient (FusedMatMul's rule) matches central differences`, async () => {
    await checkGradients(`matmulTransB ${name}`, [U([...shapes[0]]), U([...shapes[1]])], ([a, b]) => op.matmulTransB(a, b), { dtype: 'float32', eps: 1e-2, tol: 2e-3 });
  });
}
