/**
 * A small ONNX graph builder: typed symbolic tensors with static (possibly symbolic) shapes,
 * graph inputs and outputs, constants, and initializers that are external data pointing into a
 * safetensors file. Ops live in ops.ts (each with its gradient rule), reverse-mode
 * differentiation in autodiff.ts, the protobuf writer in serialize.ts.
 */
import type { TensorLocation } from '../model/types';
import { InputError } from '../errors';
import { ComputeDType, DType, DTYPE_BYTES, dtypeOfSafetensors, ONNX_DTYPE_CODE } from './dtype';
import { Dim, Shape, shapeToString, staticSize } from './shape';

export type { DType, ComputeDType } from './dtype';
export type { Dim, Shape } from './shape';

/** An ONNX node attribute. Tagged because ONNX distinguishes int from float attributes. */
export type Attribute =
  | { i: number }
  | { f: number }
  | { ints: readonly number[] }
  | { floats: readonly number[] }
  | { s: string };

/**
 * A gradient rule: given the gradients of a node's outputs (null where an output gets none)
 * and which inputs need a gradient, emit the gradients of its inputs (null where none).
 * Rules emit ops on the same builder, so they read like the forward code.
 */
export type GradientRule = (
  outputGrads: readonly (Tensor | null)[],
  needsGrad: readonly boolean[],
) => readonly (Tensor | null)[];

/** One recorded ONNX node. An input of null is an omitted optional input (written as ''). */
export interface GraphNode {
  readonly opType: string;
  /** The operator set: '' for ONNX's default domain, 'com.microsoft' for onnxruntime's contrib ops. */
  readonly domain: string;
  readonly inputs: readonly (Tensor | null)[];
  readonly outputs: readonly Tensor[];
  readonly attributes: Readonly<Record<string, Attribute>>;
  /** Absent for ops that are not differentiable (comparisons, casts to int, shapes). */
  readonly backward?: GradientRule;
  /**
   * The tensors `backward` differentiates with respect to, when not the node's ONNX inputs: a
   * composite op (acos) whose inner nodes carry no rules closes with one node that has them.
   */
  readonly gradInputs?: readonly (Tensor | null)[];
  readonly name: string;
}

/** What a tensor is: a graph input, an inline constant, a weight (external data) or a node output. */
export type TensorKind = 'input' | 'constant' | 'weight' | 'value';

/** A symbolic tensor of a GraphBuilder. */
export class Tensor {
  constructor(
    readonly graph: GraphBuilder,
    readonly name: string,
    readonly dtype: DType,
    readonly shape: Shape,
    readonly kind: TensorKind,
    /** The node that computes it (kind 'value' only). */
    readonly producer: GraphNode | null = null,
  ) {
    graph.noteDims(this);
  }

  get rank(): number {
    return this.shape.length;
  }

  toString(): string {
    return `${this.name}: ${this.dtype}${shapeToString(this.shape)}`;
  }
}

/** An initializer stored in the model file itself (small constants). */
export interface InlineInitializer {
  readonly kind: 'inline';
  readonly tensor: Tensor;
  /** Little-endian raw bytes, as TensorProto.raw_data. */
  readonly bytes: Uint8Array;
}

/** An initializer read from another file (a safetensors weight file) at a byte offset. */
export interface ExternalInitializer {
  readonly kind: 'external';
  readonly tensor: Tensor;
  /** Absolute path of the data file. */
  readonly file: string;
  readonly offset: number;
  readonly byteLength: number;
}

export type Initializer = InlineInitializer | ExternalInitializer;

/** Numbers for a constant; int64 constants also accept BigInt64Array, bool ones 0/1 or booleans. */
export type ConstantValues =
  | number
  | boolean
  | readonly number[]
  | readonly boolean[]
  | Float32Array
  | Float64Array
  | Int32Array
  | BigInt64Array
  | Uint8Array;

export interface GraphBuilderOptions {
  /** The dtype arithmetic runs in; weights are cast to it. Default float32. */
  computeDtype?: ComputeDType;
  /** The graph's name in the ONNX file. */
  name?: string;
}

/** What a serialised graph consists of: a GraphBuilder, or a part of one (onnx/splitBackward.ts). */
export interface GraphParts {
  readonly name: string;
  readonly nodes: readonly GraphNode[];
  readonly inputs: readonly Tensor[];
  readonly outputs: readonly Tensor[];
  readonly initializers: readonly Initializer[];
}

/** Records nodes, inputs, outputs and initializers of one ONNX graph. */
export class GraphBuilder {
  readonly computeDtype: ComputeDType;
  readonly name: string;
  readonly nodes: GraphNode[] = [];
  readonly inputs: Tensor[] = [];
  readonly outputs: Tensor[] = [];
  readonly initializers: Initializer[] = [];
  private readonly usedNames = new Set<string>();
  /** Shared small constants, by dtype and values. */
  private readonly scalarCache = new Map<string, Tensor>();
  private readonly weightsByName = new Map<string, ExternalInitializer>();
  private readonly computeWeights = new Map<string, Tensor>();
  private readonly dimSources = new Map<string, { tensor: Tensor; axis: number }>();
  private readonly dimTensors = new Map<string, Tensor>();
  private counter = 0;

  constructor(options: GraphBuilderOptions = {}) {
    this.computeDtype = options.computeDtype ?? 'float32';
    this.name = options.name ?? 'microsteer';
  }

  /** A fresh tensor/node name starting with `hint`. */
  uniqueName(hint: string): string {
    let name = hint;
    while (this.usedNames.has(name)) name = `${hint}_${++this.counter}`;
    this.usedNames.add(name);
    return name;
  }

  private claimName(name: string, what: string): void {
    if (this.usedNames.has(name)) throw new Error(`${what} name '${name}' is already used in graph '${this.name}'`);
    this.usedNames.add(name);
  }

  /** Declares a graph input. Symbolic dims become named dims (dim_param) of the ONNX input. */
  input(name: string, dtype: DType, shape: Shape): Tensor {
    this.claimName(name, 'input');
    const t = new Tensor(this, name, dtype, [...shape], 'input');
    this.inputs.push(t);
    return t;
  }

  /** Declares a graph output named `name` holding `t` (through an Identity node when renamed). */
  output(name: string, t: Tensor): Tensor {
    this.own(t, `output '${name}'`);
    if (this.outputs.some((o) => o.name === name)) throw new Error(`output '${name}' declared twice`);
    const out = t.name === name && t.kind === 'value' ? t : this.emit('Identity', [t], {}, [{ dtype: t.dtype, shape: t.shape, name }], ([g]) => [g])[0];
    this.outputs.push(out);
    return out;
  }

  /** A constant of the given dtype (default: the compute dtype) and shape (default: that of `values`). */
  constant(values: ConstantValues, dtype: DType = this.computeDtype, shape?: Shape): Tensor {
    const flat = flattenValues(values);
    const dims = shape ?? (typeof values === 'number' || typeof values === 'boolean' ? [] : [flat.length]);
    const n = staticSize(dims);
    if (n === null || n !== flat.length) {
      throw new Error(`constant: ${flat.length} values do not fill shape ${shapeToString(dims)}`);
    }
    const t = new Tensor(this, this.uniqueName('const'), dtype, [...dims], 'constant');
    this.initializers.push({ kind: 'inline', tensor: t, bytes: encodeValues(flat, dtype) });
    return t;
  }

  /** A rank-0 constant, shared between uses of the same value and dtype. */
  scalar(value: number, dtype: DType = this.computeDtype): Tensor {
    const key = `${dtype}:${Object.is(value, -0) ? '-0' : String(value)}`;
    let t = this.scalarCache.get(key);
    if (!t) {
      t = this.constant(value, dtype, []);
      this.scalarCache.set(key, t);
    }
    return t;
  }

  /** A 1-D int64 constant (axes, shapes, indices), shared between uses of the same values. */
  int64s(values: readonly number[]): Tensor {
    const key = `int64[]:${values.join(',')}`;
    let t = this.scalarCache.get(key);
    if (!t) {
      t = this.constant(values, 'int64', [values.length]);
      this.scalarCache.set(key, t);
    }
    return t;
  }

  /**
   * A weight read in place from `file` (absolute path) at absolute byte `offset`. The file must lie
   * in (or under) the folder the model is written into. The same name twice returns the same tensor.
   */
  externalWeight(name: string, dtype: DType, shape: readonly number[], file: string, offset: number, byteLength: number): Tensor {
    const existing = this.weightsByName.get(name);
    if (existing) {
      if (existing.file !== file || existing.offset !== offset || existing.byteLength !== byteLength) {
        throw new Error(`weight '${name}' declared twice with different locations`);
      }
      return existing.tensor;
    }
    const expected = (staticSize(shape) ?? NaN) * DTYPE_BYTES[dtype];
    if (expected !== byteLength) {
      throw new InputError(`weight '${name}' in ${file}: ${byteLength} bytes, expected ${expected} for ${dtype}${shapeToString(shape)}`);
    }
    if (!Number.isSafeInteger(offset) || offset < 0) throw new InputError(`weight '${name}' in ${file}: bad byte offset ${offset}`);
    this.claimName(name, 'weight');
    const tensor = new Tensor(this, name, dtype, [...shape], 'weight');
    const init: ExternalInitializer = { kind: 'external', tensor, file, offset, byteLength };
    this.weightsByName.set(name, init);
    this.initializers.push(init);
    return tensor;
  }

  /** The weight at a model-folder tensor location, in its stored dtype. */
  weight(loc: TensorLocation): Tensor {
    return this.externalWeight(loc.name, dtypeOfSafetensors(loc.dtype), loc.shape, loc.file, loc.offset, loc.byteLength);
  }

  /**
   * The weight at `loc` in the compute dtype: F16/BF16 (and F32 in a float64 graph) get a Cast,
   * since onnxruntime's CPU provider has no BF16 MatMul. Shared between uses.
   */
  computeWeight(loc: TensorLocation): Tensor {
    let t = this.computeWeights.get(loc.name);
    if (!t) {
      const w = this.weight(loc);
      t = w.dtype === this.computeDtype ? w : this.castNode(w, this.computeDtype);
      this.computeWeights.set(loc.name, t);
    }
    return t;
  }

  /** A Cast without a gradient rule (weights are constants); ops.ts has the differentiable cast. */
  private castNode(x: Tensor, to: DType): Tensor {
    return this.emit('Cast', [x], { to: { i: castCode(to) } }, [{ dtype: to, shape: x.shape }])[0];
  }

  /** Remembers the first tensor that carries each symbolic dim, to read its value at run time. */
  noteDims(t: Tensor): void {
    t.shape.forEach((d, axis) => {
      if (typeof d === 'string' && !this.dimSources.has(d)) this.dimSources.set(d, { tensor: t, axis });
    });
  }

  /** An int64 [1] tensor with the run-time value of a dim: a constant, or Shape of a tensor that has it. */
  dimTensor(d: Dim): Tensor {
    if (typeof d === 'number') return this.int64s([d]);
    let t = this.dimTensors.get(d);
    if (!t) {
      const src = this.dimSources.get(d);
      if (!src) throw new Error(`graph '${this.name}': no tensor carries the symbolic dim '${d}'`);
      t = this.emit('Shape', [src.tensor], { start: { i: src.axis }, end: { i: src.axis + 1 } }, [{ dtype: 'int64', shape: [1] }])[0];
      this.dimTensors.set(d, t);
    }
    return t;
  }

  /**
   * Records one node. Low level: ops.ts calls this with the output dtypes/shapes it inferred and
   * the node's gradient rule. `opType` may name its domain, as in 'com.microsoft:MatMulNBits'.
   */
  emit(
    opType: string,
    inputs: readonly (Tensor | null)[],
    attributes: Readonly<Record<string, Attribute>>,
    outputs: readonly { dtype: DType; shape: Shape; name?: string }[],
    backward?: GradientRule,
    gradInputs?: readonly (Tensor | null)[],
  ): Tensor[] {
    for (const t of [...inputs, ...(gradInputs ?? [])]) if (t) this.own(t, opType);
    const colon = opType.lastIndexOf(':');
    const domain = colon < 0 ? '' : opType.slice(0, colon);
    const op = opType.slice(colon + 1);
    const name = this.uniqueName(op);
    const outs: Tensor[] = [];
    const node: GraphNode = { opType: op, domain, inputs, outputs: outs, attributes, backward, gradInputs, name };
    for (const o of outputs) {
      const outName = o.name ?? this.uniqueName(`${name}_out`);
      if (o.name !== undefined) this.claimName(o.name, 'tensor');
      outs.push(new Tensor(this, outName, o.dtype, [...o.shape], 'value', node));
    }
    this.nodes.push(node);
    return outs;
  }

  private own(t: Tensor, what: string): void {
    if (t.graph !== this) throw new Error(`${what}: tensor ${t.name} belongs to another graph`);
  }
}

/** The Cast 'to' attribute value for a dtype (TensorProto.DataType). */
export function castCode(d: DType): number {
  return ONNX_DTYPE_CODE[d];
}

function flattenValues(v: ConstantValues): (number | bigint)[] {
  if (typeof v === 'number') return [v];
  if (typeof v === 'boolean') return [v ? 1 : 0];
  if (v instanceof BigInt64Array) return Array.from(v);
  return Array.from(v as ArrayLike<number | boolean>, (x) => (typeof x === 'boolean' ? (x ? 1 : 0) : x));
}

function encodeValues(flat: (number | bigint)[], dtype: DType): Uint8Array {
  const n = flat.length;
  switch (dtype) {
    case 'float32':
      return bytesOf(Float32Array.from(flat, Number));
    case 'float64':
      return bytesOf(Float64Array.from(flat, Number));
    case 'int64':
      return bytesOf(BigInt64Array.from(flat, (x) => {
        if (typeof x === 'number' && !Number.isSafeInteger(x)) throw new Error(`int64 constant: ${x} is not an integer`);
        return BigInt(x);
      }));
    case 'bool':
      return Uint8Array.from(flat, (x) => (Number(x) !== 0 ? 1 : 0));
    case 'uint8':
      return Uint8Array.from(flat, (x) => {
        if (typeof x !== 'number' || !Number.isInteger(x) || x < 0 || x > 255) throw new Error(`uint8 constant: ${x} is not a byte`);
        return x;
      });
    default:
      throw new Error(`constant: ${dtype} constants are not supported (${n} values)`);
  }
}

function bytesOf(a: Float32Array | Float64Array | BigInt64Array): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}
