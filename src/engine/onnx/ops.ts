/**
 * The ops the Gemma-2 graphs need. Each function infers the output's dtype and static shape,
 * emits the ONNX node(s) and, right beside it, the node's gradient rule (micrograd style). The
 * chain rule itself is applied in one place: autodiff.ts.
 *
 * A `number` operand becomes a scalar constant of the other operand's dtype.
 */
import { DType, isFloatDType } from './dtype';
import { Attribute, castCode, GradientRule, Tensor } from './graph';
import { broadcastAxes, broadcastShapes, Dim, normAxis, Shape, shapeToString, staticSize } from './shape';

export type Operand = Tensor | number;

// ---------------------------------------------------------------- helpers

function graphOf(...xs: Operand[]): Tensor {
  const t = xs.find((x): x is Tensor => typeof x !== 'number');
  if (!t) throw new Error('an op needs at least one tensor operand');
  return t;
}

function lift(x: Operand, like: Tensor): Tensor {
  return typeof x === 'number' ? like.graph.scalar(x, like.dtype) : x;
}

function sameDtype(op: string, a: Tensor, b: Tensor): void {
  if (a.dtype !== b.dtype) throw new Error(`${op}: dtypes differ (${a} vs ${b})`);
}

function requireFloat(op: string, x: Tensor): void {
  if (!isFloatDType(x.dtype)) throw new Error(`${op}: needs a float tensor, got ${x}`);
}

function ints(values: readonly number[]): Attribute {
  return { ints: values };
}

function emit1(op: string, inputs: readonly (Tensor | null)[], attrs: Record<string, Attribute>, dtype: DType, shape: Shape, backward?: GradientRule): Tensor {
  const g = graphOf(...inputs.filter((t): t is Tensor => t !== null));
  return g.graph.emit(op, inputs, attrs, [{ dtype, shape }], backward)[0];
}

function int64Vector(like: Tensor, values: readonly number[]): Tensor {
  return like.graph.int64s(values);
}

/** Sums a gradient over the axes along which an operand of `shape` was broadcast, back to `shape`. */
export function sumToShape(x: Tensor, shape: Shape): Tensor {
  const { leading, kept } = broadcastAxes(shape, x.shape);
  let y = x;
  if (leading.length + kept.length > 0) y = reduceSum(y, [...leading, ...kept], true);
  if (leading.length > 0) y = squeeze(y, leading);
  return y;
}

/** The ONNX Shape input that makes Expand/Reshape produce `target`; symbolic dims are read at run time. */
function targetShape(x: Tensor, target: Shape, copyAligned: 'expand' | 'reshape'): Tensor {
  const g = x.graph;
  if (target.every((d) => typeof d === 'number')) return int64Vector(x, target as number[]);
  const lead = target.length - x.rank;
  // Symbolic dims the input already has at the same place need no run-time value: Expand keeps
  // them when told 1, Reshape when told 0.
  const parts = target.map((d, i) => {
    if (typeof d === 'string' && (copyAligned === 'expand' ? x.shape[i - lead] === d : x.shape[i] === d)) {
      return int64Vector(x, [copyAligned === 'expand' ? 1 : 0]);
    }
    return g.dimTensor(d);
  });
  return g.emit('Concat', parts, { axis: { i: 0 } }, [{ dtype: 'int64', shape: [target.length] }])[0];
}

/** A tensor of zeros with `x`'s dtype and shape. */
export function zerosLike(x: Tensor): Tensor {
  return expand(x.graph.scalar(0, x.dtype), x.shape);
}

/** A tensor of ones with the given dtype and shape. */
export function ones(like: Tensor, dtype: DType, shape: Shape): Tensor {
  return expand(like.graph.scalar(1, dtype), shape);
}

// ---------------------------------------------------------------- elementwise binary

function binary(op: string, a0: Operand, b0: Operand, backward: (a: Tensor, b: Tensor, y: () => Tensor) => GradientRule): Tensor {
  const ref = graphOf(a0, b0);
  const a = lift(a0, ref);
  const b = lift(b0, ref);
  sameDtype(op, a, b);
  const shape = broadcastShapes(a.shape, b.shape, op);
  const y: Tensor = emit1(op, [a, b], {}, a.dtype, shape, backward(a, b, () => y));
  return y;
}

/** a + b, broadcasting. */
export function add(a: Operand, b: Operand): Tensor {
  return binary('Add', a, b, (ta, tb) => ([gy], [na, nb]) => [
    na && gy ? sumToShape(gy, ta.shape) : null,
    nb && gy ? sumToShape(gy, tb.shape) : null,
  ]);
}

/** a - b, broadcasting. */
export function sub(a: Operand, b: Operand): Tensor {
  return binary('Sub', a, b, (ta, tb) => ([gy], [na, nb]) => [
    na && gy ? sumToShape(gy, ta.shape) : null,
    nb && gy ? sumToShape(neg(gy), tb.shape) : null,
  ]);
}

/** a * b, broadcasting. */
export function mul(a: Operand, b: Operand): Tensor {
  return binary('Mul', a, b, (ta, tb) => ([gy], [na, nb]) => [
    na && gy ? sumToShape(mul(gy, tb), ta.shape) : null,
    nb && gy ? sumToShape(mul(gy, ta), tb.shape) : null,
  ]);
}

/** a / b, broadcasting. */
export function div(a: Operand, b: Operand): Tensor {
  return binary('Div', a, b, (ta, tb, y) => ([gy], [na, nb]) => [
    na && gy ? sumToShape(div(gy, tb), ta.shape) : null,
    nb && gy ? sumToShape(neg(div(mul(gy, y()), tb)), tb.shape) : null,
  ]);
}

/** a ** b, broadcasting. The gradient with respect to b needs a > 0. */
export function pow(a: Tensor, b: Operand): Tensor {
  return binary('Pow', a, b, (ta, tb, y) => ([gy], [na, nb]) => [
    na && gy ? sumToShape(mul(gy, mul(tb, pow(ta, sub(tb, 1)))), ta.shape) : null,
    nb && gy ? sumToShape(mul(gy, mul(y(), log(ta))), tb.shape) : null,
  ]);
}

// ---------------------------------------------------------------- elementwise unary

function unary(op: string, x: Tensor, grad: (x: Tensor, y: Tensor, gy: Tensor) => Tensor, attrs: Record<string, Attribute> = {}): Tensor {
  requireFloat(op, x);
  const y: Tensor = emit1(op, [x], attrs, x.dtype, x.shape, ([gy], [nx]) => [nx && gy ? grad(x, y, gy) : null]);
  return y;
}

/** -x */
export function neg(x: Tensor): Tensor {
  return unary('Neg', x, (_x, _y, gy) => neg(gy));
}

/** e^x */
export function exp(x: Tensor): Tensor {
  return unary('Exp', x, (_x, y, gy) => mul(gy, y));
}

/** Natural logarithm. */
export function log(x: Tensor): Tensor {
  return unary('Log', x, (tx, _y, gy) => div(gy, tx));
}

/** Square root. */
export function sqrt(x: Tensor): Tensor {
  return unary('Sqrt', x, (_x, y, gy) => div(mul(gy, 0.5), y));
}

/** 1 / x */
export function reciprocal(x: Tensor): Tensor {
  return unary('Reciprocal', x, (_x, y, gy) => neg(mul(gy, mul(y, y))));
}

/** Hyperbolic tangent. */
export function tanh(x: Tensor): Tensor {
  return unary('Tanh', x, (_x, y, gy) => mul(gy, sub(1, mul(y, y))));
}

/**
 * gelu with the tanh approximation (`gelu_pytorch_tanh`): 0.5 x (1 + t), t = tanh(k (x + 0.044715 x^3)),
 * k = sqrt(2 / pi). One op with its own gradient rule, dx = gy (0.5 (1 + t) + 0.5 k x (1 - t^2) (1 +
 * 3 * 0.044715 x^2)), so the reverse sweep reads x and t: through its elementary ops it read five values
 * of the MLP's width per layer (the largest saved values of a training step after the head's).
 */
export function geluTanh(x: Tensor): Tensor {
  requireFloat('geluTanh', x);
  const g = x.graph;
  const c = (v: number) => g.scalar(v, x.dtype);
  const k = Math.sqrt(2 / Math.PI);
  const cubic = plain('Mul', plain('Mul', plain('Mul', x, x), x), c(0.044715));
  const t = emit1('Tanh', [plain('Mul', plain('Add', x, cubic), c(k))], {}, x.dtype, x.shape);
  const y = plain('Mul', plain('Mul', x, c(0.5)), plain('Add', t, c(1)));
  const rule: GradientRule = ([gy], [nx]) => {
    if (!nx || !gy) return [null];
    const slope = mul(mul(sub(1, mul(t, t)), mul(x, 0.5 * k)), add(mul(mul(x, x), 3 * 0.044715), 1));
    return [mul(gy, add(mul(add(t, 1), 0.5), slope))];
  };
  return g.emit('Identity', [y], {}, [{ dtype: x.dtype, shape: x.shape }], rule, [x])[0];
}

/** max(x, 0); the gradient at 0 is 0. */
export function relu(x: Tensor): Tensor {
  return unary('Relu', x, (tx, _y, gy) => where(greater(tx, 0), gy, 0));
}

/** 1 / (1 + e^-x) */
export function sigmoid(x: Tensor): Tensor {
  return unary('Sigmoid', x, (_x, y, gy) => mul(gy, mul(y, sub(1, y))));
}

/** Cosine. */
export function cos(x: Tensor): Tensor {
  return unary('Cos', x, (tx, _y, gy) => neg(mul(gy, sin(tx))));
}

/** Sine. */
export function sin(x: Tensor): Tensor {
  return unary('Sin', x, (tx, _y, gy) => mul(gy, cos(tx)));
}

/** |x|; the gradient at 0 is 0. */
export function abs(x: Tensor): Tensor {
  return unary('Abs', x, (tx, _y, gy) => mul(gy, emit1('Sign', [tx], {}, tx.dtype, tx.shape)));
}

/** min(max(x, min), max); the gradient passes where min <= x <= max. */
export function clip(x: Tensor, min?: number, max?: number): Tensor {
  requireFloat('Clip', x);
  const g = x.graph;
  const lo = min === undefined ? null : g.scalar(min, x.dtype);
  const hi = max === undefined ? null : g.scalar(max, x.dtype);
  return emit1('Clip', [x, lo, hi], {}, x.dtype, x.shape, ([gy], [nx]) => {
    if (!nx || !gy) return [null];
    let inside: Tensor | null = null;
    if (lo) inside = logicalNot(less(x, lo));
    if (hi) inside = inside ? logicalAnd(inside, logicalNot(greater(x, hi))) : logicalNot(greater(x, hi));
    return [inside ? where(inside, gy, 0) : gy];
  });
}

/**
 * arccos(x) for |x| <= 1. onnxruntime has no CUDA Acos kernel (and no float64 one on CPU), so it
 * is computed from a polynomial start (Abramowitz & Stegun 4.4.45, error < 7e-5) refined by two
 * Newton steps on cos(y) = x, with the exact gradient -1/sqrt(1 - x^2) as its rule.
 */
export function acos(x: Tensor): Tensor {
  requireFloat('acos', x);
  const g = x.graph;
  const a = emit1('Abs', [x], {}, x.dtype, x.shape);
  const poly = [1.5707288, -0.2121144, 0.074261, -0.0187293];
  let p: Tensor = g.scalar(poly[3], x.dtype);
  for (let i = 2; i >= 0; i--) p = plain('Add', plain('Mul', p, a), g.scalar(poly[i], x.dtype));
  const root = emit1('Sqrt', [plain('Sub', g.scalar(1, x.dtype), a)], {}, x.dtype, x.shape);
  const half = plain('Mul', root, p);
  const negative = emit1('Less', [x, g.scalar(0, x.dtype)], {}, 'bool', x.shape);
  let y = emit1('Where', [negative, plain('Sub', g.scalar(Math.PI, x.dtype), half), half], {}, x.dtype, x.shape);
  // sin(y) is 0 only at x = +-1, where cos(y) - x is 0 too: a floor keeps the step 0 there, not NaN.
  const tiny = g.scalar(x.dtype === 'float64' ? 1e-300 : 1e-30, x.dtype);
  for (let step = 0; step < 2; step++) {
    const c = emit1('Cos', [y], {}, x.dtype, x.shape);
    const s = emit1('Max', [emit1('Sin', [y], {}, x.dtype, x.shape), tiny], {}, x.dtype, x.shape);
    y = plain('Add', y, plain('Div', plain('Sub', c, x), s));
  }
  const rule: GradientRule = ([gy], [nx]) => [nx && gy ? neg(div(gy, sqrt(sub(1, mul(x, x))))) : null];
  return g.emit('Identity', [y], {}, [{ dtype: x.dtype, shape: x.shape }], rule, [x])[0];
}

/** A broadcasting arithmetic node with no gradient rule, for the inside of composite ops. */
function plain(op: 'Add' | 'Sub' | 'Mul' | 'Div', a: Tensor, b: Tensor): Tensor {
  return emit1(op, [a, b], {}, a.dtype, broadcastShapes(a.shape, b.shape, op));
}

// ---------------------------------------------------------------- comparisons and masks (no gradients)

function compare(op: string, a0: Operand, b0: Operand): Tensor {
  const ref = graphOf(a0, b0);
  const a = lift(a0, ref);
  const b = lift(b0, ref);
  sameDtype(op, a, b);
  return emit1(op, [a, b], {}, 'bool', broadcastShapes(a.shape, b.shape, op));
}

/** a == b (bool). */
export function equal(a: Operand, b: Operand): Tensor {
  return compare('Equal', a, b);
}

/** a < b (bool). */
export function less(a: Operand, b: Operand): Tensor {
  return compare('Less', a, b);
}

/** a > b (bool). */
export function greater(a: Operand, b: Operand): Tensor {
  return compare('Greater', a, b);
}

/** a && b, broadcasting bools. */
export function logicalAnd(a: Tensor, b: Tensor): Tensor {
  return compare('And', a, b);
}

/** a || b, broadcasting bools. */
export function logicalOr(a: Tensor, b: Tensor): Tensor {
  return compare('Or', a, b);
}

/** !x for bools. */
export function logicalNot(x: Tensor): Tensor {
  if (x.dtype !== 'bool') throw new Error(`Not: needs a bool tensor, got ${x}`);
  return emit1('Not', [x], {}, 'bool', x.shape);
}

/** cond ? a : b, broadcasting all three. */
export function where(cond: Tensor, a0: Operand, b0: Operand): Tensor {
  if (cond.dtype !== 'bool') throw new Error(`Where: condition must be bool, got ${cond}`);
  const ref = graphOf(a0, b0);
  const a = lift(a0, ref);
  const b = lift(b0, ref);
  sameDtype('Where', a, b);
  const shape = broadcastShapes(cond.shape, broadcastShapes(a.shape, b.shape, 'Where'), 'Where');
  return emit1('Where', [cond, a, b], {}, a.dtype, shape, ([gy], [, na, nb]) => [
    null,
    na && gy ? sumToShape(where(cond, gy, 0), a.shape) : null,
    nb && gy ? sumToShape(where(cond, 0, gy), b.shape) : null,
  ]);
}

/** The same values with no gradient flowing back through them. */
export function stopGradient(x: Tensor): Tensor {
  return emit1('Identity', [x], {}, x.dtype, x.shape);
}

/** Converts the element type. Float-to-float casts pass the gradient back cast to the input's dtype. */
export function cast(x: Tensor, to: DType): Tensor {
  if (x.dtype === to) return x;
  const differentiable = isFloatDType(x.dtype) && isFloatDType(to);
  return emit1('Cast', [x], { to: { i: castCode(to) } }, to, x.shape, differentiable ? ([gy], [nx]) => [nx && gy ? cast(gy, x.dtype) : null] : undefined);
}

// ---------------------------------------------------------------- matrix product

/**
 * Batched matrix product of a [..., m, k] and b [..., k, n] (both rank >= 2), batch dims broadcast
 * as numpy.matmul does.
 */
export function matmul(a: Tensor, b: Tensor): Tensor {
  requireFloat('MatMul', a);
  sameDtype('MatMul', a, b);
  if (a.rank < 2 || b.rank < 2) throw new Error(`MatMul: needs rank >= 2 operands, got ${a} and ${b}`);
  const [m, k] = a.shape.slice(-2);
  const [k2, n] = b.shape.slice(-2);
  if (k !== k2) throw new Error(`MatMul: inner dims differ (${a} @ ${b})`);
  const batch = broadcastShapes(a.shape.slice(0, -2), b.shape.slice(0, -2), 'MatMul');
  return emit1('MatMul', [a, b], {}, a.dtype, [...batch, m, n], ([gy], [na, nb]) => [
    na && gy ? sumToShape(matmul(gy, swapLast(b)), a.shape) : null,
    nb && gy ? sumToShape(matmul(swapLast(a), gy), b.shape) : null,
  ]);
}

/**
 * a @ b^T. In float32 one `com.microsoft` FusedMatMul (transB) that reads b as it lies: MatMul over
 * Transpose(b) makes onnxruntime fold a transposed copy of a weight b at session creation. Its CPU
 * kernel is float32 only, so other dtypes keep the Transpose.
 */
export function matmulTransB(a: Tensor, b: Tensor): Tensor {
  if (a.dtype !== 'float32') return matmul(a, swapLast(b));
  sameDtype('FusedMatMul', a, b);
  if (a.rank < 2 || b.rank < 2) throw new Error(`FusedMatMul: needs rank >= 2 operands, got ${a} and ${b}`);
  const [m, k] = a.shape.slice(-2);
  const [n, k2] = b.shape.slice(-2);
  if (k !== k2) throw new Error(`FusedMatMul: inner dims differ (${a} @ ${b}^T)`);
  const batch = broadcastShapes(a.shape.slice(0, -2), b.shape.slice(0, -2), 'FusedMatMul');
  return emit1('com.microsoft:FusedMatMul', [a, b], { transB: { i: 1 } }, a.dtype, [...batch, m, n], ([gy], [na, nb]) => [
    na && gy ? sumToShape(matmul(gy, b), a.shape) : null,
    nb && gy ? sumToShape(matmul(swapLast(gy), a), b.shape) : null,
  ]);
}

function swapLast(x: Tensor): Tensor {
  const perm = x.shape.map((_, i) => i);
  perm[x.rank - 2] = x.rank - 1;
  perm[x.rank - 1] = x.rank - 2;
  return transpose(x, perm);
}

// ---------------------------------------------------------------- layout

/** Permutes axes (default: reverses them). */
export function transpose(x: Tensor, perm?: readonly number[]): Tensor {
  const p = perm ?? x.shape.map((_, i) => x.rank - 1 - i);
  if (p.length !== x.rank || [...p].sort((u, v) => u - v).some((v, i) => v !== i)) {
    throw new Error(`Transpose: ${JSON.stringify(p)} is not a permutation of ${x.rank} axes`);
  }
  const inverse = new Array<number>(p.length);
  p.forEach((v, i) => (inverse[v] = i));
  return emit1('Transpose', [x], { perm: ints(p) }, x.dtype, p.map((i) => x.shape[i]), ([gy], [nx]) => [
    nx && gy ? transpose(gy, inverse) : null,
  ]);
}

/**
 * Reshapes to `shape`. Symbolic dims are allowed: those at the same axis as in the input are
 * copied, others are read at run time from a tensor that carries them.
 */
export function reshape(x0: Tensor, shape: Shape): Tensor {
  const a = staticSize(x0.shape);
  const b = staticSize(shape);
  if (a !== null && b !== null && a !== b) throw new Error(`Reshape: ${x0} cannot become ${shapeToString(shape)}`);
  // A reshape of a reshape reads the first one's input: the same values, one node fewer, and it
  // avoids onnxruntime's fusion of consecutive Reshapes, which breaks on run-time shape inputs.
  const x = x0.producer?.opType === 'Reshape' ? (x0.producer.inputs[0] as Tensor) : x0;
  if (shape.length === x.rank && shape.every((d, i) => d === x.shape[i])) return x;
  return emit1('Reshape', [x, targetShape(x, shape, 'reshape')], {}, x.dtype, shape, ([gy], [nx]) => [
    nx && gy ? reshape(gy, x.shape) : null,
  ]);
}

/** Inserts size-1 axes at `axes` (positions in the output). */
export function unsqueeze(x: Tensor, axes: readonly number[]): Tensor {
  const rank = x.rank + axes.length;
  const at = new Set(axes.map((a) => normAxis(a, rank, 'Unsqueeze')));
  const shape: Dim[] = [];
  let j = 0;
  for (let i = 0; i < rank; i++) shape.push(at.has(i) ? 1 : x.shape[j++]);
  const sorted = [...at].sort((u, v) => u - v);
  return emit1('Unsqueeze', [x, int64Vector(x, sorted)], {}, x.dtype, shape, ([gy], [nx]) => [
    nx && gy ? squeeze(gy, sorted) : null,
  ]);
}

/** Removes the size-1 axes `axes`. */
export function squeeze(x: Tensor, axes: readonly number[]): Tensor {
  const at = new Set(axes.map((a) => normAxis(a, x.rank, 'Squeeze')));
  for (const a of at) if (x.shape[a] !== 1) throw new Error(`Squeeze: axis ${a} of ${x} is not 1`);
  const sorted = [...at].sort((u, v) => u - v);
  return emit1('Squeeze', [x, int64Vector(x, sorted)], {}, x.dtype, x.shape.filter((_, i) => !at.has(i)), ([gy], [nx]) => [
    nx && gy ? unsqueeze(gy, sorted) : null,
  ]);
}

/** Broadcasts `x` to `shape` (numpy rules; symbolic dims allowed). */
export function expand(x: Tensor, shape: Shape): Tensor {
  const out = broadcastShapes(x.shape, shape, 'Expand');
  if (out.length === x.rank && out.every((d, i) => d === x.shape[i])) return x;
  return emit1('Expand', [x, targetShape(x, out, 'expand')], {}, x.dtype, out, ([gy], [nx]) => [
    nx && gy ? sumToShape(gy, x.shape) : null,
  ]);
}

/** Joins tensors along `axis`; a symbolic total is written as a sum such as 'past+seq'. */
export function concat(xs: readonly Tensor[], axis: number): Tensor {
  if (xs.length === 0) throw new Error('Concat: no tensors');
  const first = xs[0];
  const ax = normAxis(axis, first.rank, 'Concat');
  for (const t of xs) {
    sameDtype('Concat', first, t);
    if (t.rank !== first.rank || t.shape.some((d, i) => i !== ax && d !== first.shape[i])) {
      throw new Error(`Concat: ${t} does not match ${first} outside axis ${ax}`);
    }
  }
  const dims = xs.map((t) => t.shape[ax]);
  const total: Dim = dims.every((d) => typeof d === 'number') ? (dims as number[]).reduce((u, v) => u + v, 0) : dims.join('+');
  const shape = first.shape.map((d, i) => (i === ax ? total : d));
  return emit1('Concat', xs, { axis: { i: ax } }, first.dtype, shape, ([gy], needs) => {
    let start: Dim = 0;
    return xs.map((t, i) => {
      const end = addDims(start, t.shape[ax]);
      const part = needs[i] && gy ? sliceBetween(gy, ax, start, end, t.shape[ax]) : null;
      start = end;
      return part;
    });
  });
}

function addDims(a: Dim, b: Dim): Dim {
  if (typeof a === 'number' && typeof b === 'number') return a + b;
  if (a === 0) return b;
  return `${a}+${b}`;
}

/** Slices [start, end) along `axis` where start/end are dims that may be symbolic (read at run time). */
export function sliceBetween(x: Tensor, axis: number, start: Dim, end: Dim, size: Dim): Tensor {
  const g = x.graph;
  const starts = typeof start === 'number' ? int64Vector(x, [start]) : g.dimTensor(start);
  const ends = typeof end === 'number' ? int64Vector(x, [end]) : g.dimTensor(end);
  const shape = x.shape.map((d, i) => (i === axis ? size : d));
  return emit1('Slice', [x, starts, ends, int64Vector(x, [axis])], {}, x.dtype, shape, ([gy], [nx]) => [
    nx && gy ? padAlong(gy, axis, start, x.shape[axis]) : null,
  ]);
}

/**
 * x[start:end] along `axis` (end omitted: to the end; negative values count from the end, as in
 * Python). With a symbolic dim, supported forms are [s:], [-k:] and [s:e] with 0 <= s <= e.
 */
export function slice(x: Tensor, axis: number, start: number, end?: number): Tensor {
  const ax = normAxis(axis, x.rank, 'Slice');
  const dim = x.shape[ax];
  let from: Dim;
  let size: Dim;
  if (typeof dim === 'number') {
    const s = clampIndex(start, dim);
    const e = end === undefined ? dim : clampIndex(end, dim);
    from = s;
    size = Math.max(0, e - s);
  } else if (end === undefined && start >= 0) {
    from = start;
    size = start === 0 ? dim : `${dim}-${start}`;
  } else if (end === undefined) {
    from = `${dim}-${-start}`;
    size = -start;
  } else if (start >= 0 && end >= start) {
    from = start;
    size = end - start;
  } else {
    throw new Error(`Slice: [${start}:${end}] of symbolic dim '${dim}' in ${x} is not supported`);
  }
  const ends = end === undefined ? Number.MAX_SAFE_INTEGER : end;
  const inputs = [x, int64Vector(x, [start]), int64Vector(x, [ends]), int64Vector(x, [ax])];
  const shape = x.shape.map((d, i) => (i === ax ? size : d));
  return emit1('Slice', inputs, {}, x.dtype, shape, ([gy], [nx]) => [nx && gy ? padAlong(gy, ax, from, dim) : null]);
}

function clampIndex(i: number, dim: number): number {
  return Math.min(dim, Math.max(0, i < 0 ? i + dim : i));
}

/**
 * Zero-pads `x` along `axis` so that its values start at `before` in a dim of size `full`: the slice's gradient.
 * The pads cover every axis (no `axes` input): onnxruntime 1.30's transpose optimizer rewrites a Pad with
 * `axes` as if its pads covered every axis, which breaks the graph at run time.
 */
function padAlong(x: Tensor, axis: number, before: Dim, full: Dim): Tensor {
  const g = x.graph;
  const size = x.shape[axis];
  const rank = x.rank;
  let pads: Tensor;
  if (typeof before === 'number' && typeof full === 'number' && typeof size === 'number') {
    const values = new Array<number>(2 * rank).fill(0);
    values[axis] = before;
    values[rank + axis] = full - before - size;
    pads = int64Vector(x, values);
  } else {
    const b = typeof before === 'number' ? int64Vector(x, [before]) : runtimeDim(x, before, full);
    const after = plain('Sub', plain('Sub', g.dimTensor(full), b), typeof size === 'number' ? int64Vector(x, [size]) : g.dimTensor(size));
    const zeros = (k: number) => (k > 0 ? [int64Vector(x, new Array<number>(k).fill(0))] : []);
    const parts = [...zeros(axis), b, ...zeros(rank - axis - 1), ...zeros(axis), after, ...zeros(rank - axis - 1)];
    pads = g.emit('Concat', parts, { axis: { i: 0 } }, [{ dtype: 'int64', shape: [2 * rank] }])[0];
  }
  const shape = x.shape.map((d, i) => (i === axis ? full : d));
  return emit1('Pad', [x, pads, g.scalar(0, x.dtype)], {}, x.dtype, shape, ([gy], [nx]) => [
    nx && gy ? sliceBetween(gy, axis, before, addDims(before, size), size) : null,
  ]);
}

/** The run-time value of a dim written as 'name-k' by slice(), or of any registered dim. */
function runtimeDim(x: Tensor, d: string, full: Dim): Tensor {
  const m = /^(.*)-(\d+)$/.exec(d);
  if (m && m[1] === full) return plain('Sub', x.graph.dimTensor(full), int64Vector(x, [Number(m[2])]));
  return x.graph.dimTensor(d);
}

// ---------------------------------------------------------------- indexing

/**
 * Picks entries of `data` along `axis` by int64 `indices` (embedding lookup, index select): the
 * output's shape is data[:axis] + indices + data[axis+1:]. Indices must be non-negative where a
 * gradient with respect to `data` is asked for.
 */
export function gather(data: Tensor, indices: Tensor, axis = 0): Tensor {
  if (indices.dtype !== 'int64') throw new Error(`Gather: indices must be int64, got ${indices}`);
  const ax = normAxis(axis, data.rank, 'Gather');
  const shape = [...data.shape.slice(0, ax), ...indices.shape, ...data.shape.slice(ax + 1)];
  return emit1('Gather', [data, indices], { axis: { i: ax } }, data.dtype, shape, ([gy], [nd]) => [
    nd && gy ? scatterAddAlong(data, indices, ax, gy) : null,
  ]);
}

/** The gradient of gather: zeros of data's shape with gy's slices added at `indices` (ScatterND, reduction add). */
function scatterAddAlong(data: Tensor, indices: Tensor, axis: number, gy: Tensor): Tensor {
  const ir = indices.rank;
  // Move the gathered axis to the front of data, and the index dims to the front of gy.
  const dataPerm = [axis, ...data.shape.map((_, i) => i).filter((i) => i !== axis)];
  const gyPerm = [
    ...Array.from({ length: ir }, (_, i) => axis + i),
    ...Array.from({ length: axis }, (_, i) => i),
    ...Array.from({ length: data.rank - axis - 1 }, (_, i) => axis + ir + i),
  ];
  const front = dataPerm.map((i) => data.shape[i]);
  const base = expand(data.graph.scalar(0, data.dtype), front);
  const updates = transpose(gy, gyPerm);
  const summed = emit1('ScatterND', [base, unsqueeze(indices, [-1]), updates], { reduction: { s: 'add' } }, data.dtype, front, ([g2], [, , nu]) => [
    null,
    null,
    nu && g2 ? transpose(gather(transpose(g2, invert(dataPerm)), indices, axis), gyPerm) : null,
  ]);
  return transpose(summed, invert(dataPerm));
}

function invert(perm: readonly number[]): number[] {
  const inv = new Array<number>(perm.length);
  perm.forEach((v, i) => (inv[v] = i));
  return inv;
}

/** One-hot vectors of length `depth` for int64 `indices` (no gradient). */
export function oneHot(indices: Tensor, depth: number, dtype: DType): Tensor {
  return cast(equal(unsqueeze(indices, [-1]), range(indices, 0, depth)), dtype);
}

/** The int64 constant [start, start+delta, ...) below `limit`, in `like`'s graph. */
export function range(like: Tensor, start: number, limit: number, delta = 1): Tensor {
  const values: number[] = [];
  for (let v = start; delta > 0 ? v < limit : v > limit; v += delta) values.push(v);
  return like.graph.constant(values, 'int64', [values.length]);
}

/** [0, 1, ..., d-1] as int64 of shape [d]; a symbolic d is read at run time (Range op). */
export function rangeOf(like: Tensor, d: Dim): Tensor {
  if (typeof d === 'number') return range(like, 0, d);
  const g = like.graph;
  const limit = emit1('Squeeze', [g.dimTensor(d), int64Vector(like, [0])], {}, 'int64', []);
  return emit1('Range', [g.scalar(0, 'int64'), limit, g.scalar(1, 'int64')], {}, 'int64', [d]);
}

// ---------------------------------------------------------------- reductions

function reducedShape(x: Tensor, axes: readonly number[], keepdims: boolean, op: string): { axes: number[]; shape: Dim[] } {
  const norm = [...new Set(axes.map((a) => normAxis(a, x.rank, op)))].sort((u, v) => u - v);
  const shape = keepdims ? x.shape.map((d, i) => (norm.includes(i) ? 1 : d)) : x.shape.filter((_, i) => !norm.includes(i));
  return { axes: norm, shape };
}

/** gy of a reduction, brought back to x's shape (re-inserting removed axes, then broadcasting). */
function spreadBack(gy: Tensor, x: Tensor, axes: readonly number[], keepdims: boolean): Tensor {
  return expand(keepdims ? gy : unsqueeze(gy, axes), x.shape);
}

/** Sum over `axes`. */
export function reduceSum(x: Tensor, axes: readonly number[], keepdims = false): Tensor {
  if (axes.length === 0) return x; // ONNX would read an empty list as every axis
  const r = reducedShape(x, axes, keepdims, 'ReduceSum');
  return emit1('ReduceSum', [x, int64Vector(x, r.axes)], { keepdims: { i: keepdims ? 1 : 0 } }, x.dtype, r.shape, ([gy], [nx]) => [
    nx && gy ? spreadBack(gy, x, r.axes, keepdims) : null,
  ]);
}

/** Mean over `axes`. */
export function reduceMean(x: Tensor, axes: readonly number[], keepdims = false): Tensor {
  if (axes.length === 0) return x; // ONNX would read an empty list as every axis
  requireFloat('ReduceMean', x);
  const r = reducedShape(x, axes, keepdims, 'ReduceMean');
  return emit1('ReduceMean', [x, int64Vector(x, r.axes)], { keepdims: { i: keepdims ? 1 : 0 } }, x.dtype, r.shape, ([gy], [nx]) => [
    nx && gy ? div(spreadBack(gy, x, r.axes, keepdims), countOf(x, r.axes)) : null,
  ]);
}

/** How many elements a reduction over `axes` takes per output, as a scalar of x's dtype. */
function countOf(x: Tensor, axes: readonly number[]): Tensor {
  const dims = axes.map((a) => x.shape[a]);
  if (dims.every((d) => typeof d === 'number')) return x.graph.scalar((dims as number[]).reduce((u, v) => u * v, 1), x.dtype);
  const product = dims.map((d) => x.graph.dimTensor(d)).reduce((u, v) => plain('Mul', u, v));
  return cast(reshape(product, []), x.dtype);
}

/** Max over `axes`; the gradient is shared equally between tied maxima. */
export function reduceMax(x: Tensor, axes: readonly number[], keepdims = false): Tensor {
  if (axes.length === 0) return x; // ONNX would read an empty list as every axis
  requireFloat('ReduceMax', x);
  const r = reducedShape(x, axes, keepdims, 'ReduceMax');
  const y: Tensor = emit1('ReduceMax', [x, int64Vector(x, r.axes)], { keepdims: { i: keepdims ? 1 : 0 } }, x.dtype, r.shape, ([gy], [nx]) => {
    if (!nx || !gy) return [null];
    const isMax = cast(equal(x, spreadBack(y, x, r.axes, keepdims)), x.dtype);
    const ties = reduceSum(isMax, r.axes, true);
    return [mul(isMax, div(spreadBack(gy, x, r.axes, keepdims), ties))];
  });
  return y;
}

/** Softmax over the last axis. */
export function softmax(x: Tensor): Tensor {
  requireFloat('Softmax', x);
  const y: Tensor = emit1('Softmax', [x], { axis: { i: -1 } }, x.dtype, x.shape, ([gy], [nx]) => {
    if (!nx || !gy) return [null];
    const p = y;
    return [mul(p, sub(gy, reduceSum(mul(gy, p), [-1], true)))];
  });
  return y;
}

/**
 * -log softmax(c)[target] per position, where c = cap * tanh(z / cap) are soft-capped logits
 * (c = z when cap is null): z [..., classes], int64 targets [...]. Computed as logsumexp(c) - c[target],
 * one op with its own gradient rule, g (softmax(c) - onehot) (1 - (c / cap)^2), so that the reverse
 * sweep reads c and logsumexp(c) only: one tensor of the classes' width per position, where the chain
 * through tanh and log-softmax reads two (the vocabulary makes them the largest of a training step).
 */
export function softCappedNll(z: Tensor, targets: Tensor, cap: number | null): Tensor {
  requireFloat('softCappedNll', z);
  const g = z.graph;
  const classes = z.shape[z.rank - 1];
  if (typeof classes !== 'number') throw new Error(`softCappedNll: the classes axis of ${z} must be static`);
  const reduce = (op: string, x: Tensor, keepdims: boolean) =>
    emit1(op, [x, int64Vector(x, [x.rank - 1])], { keepdims: { i: keepdims ? 1 : 0 } }, x.dtype, reducedShape(x, [-1], keepdims, op).shape);
  const capped = cap === null ? z : plain('Mul', emit1('Tanh', [plain('Div', z, g.scalar(cap, z.dtype))], {}, z.dtype, z.shape), g.scalar(cap, z.dtype));
  const max = reduce('ReduceMax', capped, true);
  const sumExp = reduce('ReduceSum', emit1('Exp', [plain('Sub', capped, max)], {}, z.dtype, z.shape), true);
  const lse = plain('Add', max, emit1('Log', [sumExp], {}, z.dtype, sumExp.shape)); // [..., 1]
  const target = oneHot(targets, classes, z.dtype);
  const picked = reduce('ReduceSum', plain('Mul', capped, target), false);
  const nll = plain('Sub', emit1('Squeeze', [lse, int64Vector(lse, [lse.rank - 1])], {}, z.dtype, picked.shape), picked);
  const rule: GradientRule = ([gy], [nz]) => {
    if (!nz || !gy) return [null];
    const dc = mul(unsqueeze(gy, [-1]), sub(exp(sub(capped, lse)), target));
    if (cap === null) return [dc];
    const t = div(capped, cap);
    return [mul(dc, sub(1, mul(t, t)))];
  };
  return g.emit('Identity', [nll], {}, [{ dtype: z.dtype, shape: nll.shape }], rule, [z])[0];
}

/** Log of the softmax over the last axis. */
export function logSoftmax(x: Tensor): Tensor {
  requireFloat('LogSoftmax', x);
  const y: Tensor = emit1('LogSoftmax', [x], { axis: { i: -1 } }, x.dtype, x.shape, ([gy], [nx]) => [
    nx && gy ? sub(gy, mul(exp(y), reduceSum(gy, [-1], true))) : null,
  ]);
  return y;
}
