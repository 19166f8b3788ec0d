/**
 * Writes a GraphBuilder as an ONNX ModelProto with protobufjs's low-level Writer. Field numbers
 * are those of onnx.proto. Weights stay where they are: external data entries name the weight
 * file relative to the folder the model is loaded from, with the tensor's byte offset and length.
 */
import * as path from 'node:path';
import { Writer } from 'protobufjs/minimal';
import { ONNX_DTYPE_CODE } from './dtype';
import { Attribute, GraphNode, GraphParts, Initializer, Tensor } from './graph';
import { InputError } from '../errors';

/** Default-domain opset the ops are written for (ReduceMean/ReduceMax take axes as an input from 18). */
export const OPSET_VERSION = 18;
/** The IR version that goes with opset 18. */
export const IR_VERSION = 8;
/** onnxruntime's own operators (MatMulNBits, GatherBlockQuantized), opset 1. */
const CONTRIB_DOMAIN = 'com.microsoft';

export interface SerializeOptions {
  /**
   * The folder onnxruntime resolves external data against (where the .onnx file is written, or
   * the folder given as the external-data folder when loading from a buffer). Every weight file
   * must lie inside it: onnxruntime refuses locations with '..' or absolute paths.
   */
  externalDataDir: string;
  producerVersion?: string;
}

// Wire types: 0 varint, 2 length-delimited, 5 32-bit.
const tag = (field: number, wire: 0 | 2 | 5) => (field << 3) | wire;

/** The serialised ModelProto. */
export function serializeModel(graph: GraphParts, options: SerializeOptions): Uint8Array {
  const w = Writer.create();
  w.uint32(tag(1, 0)).int64(IR_VERSION);
  w.uint32(tag(2, 2)).string('microsteer');
  w.uint32(tag(3, 2)).string(options.producerVersion ?? '');
  w.uint32(tag(7, 2)).fork();
  writeGraph(w, graph, options.externalDataDir);
  w.ldelim();
  w.uint32(tag(8, 2)).fork(); // OperatorSetIdProto: domain '' (default), version
  w.uint32(tag(2, 0)).int64(OPSET_VERSION);
  w.ldelim();
  if (graph.nodes.some((n) => n.domain === CONTRIB_DOMAIN)) {
    w.uint32(tag(8, 2)).fork();
    w.uint32(tag(1, 2)).string(CONTRIB_DOMAIN);
    w.uint32(tag(2, 0)).int64(1);
    w.ldelim();
  }
  return w.finish();
}

function writeGraph(w: Writer, graph: GraphParts, dataDir: string): void {
  for (const n of graph.nodes) {
    w.uint32(tag(1, 2)).fork();
    writeNode(w, n);
    w.ldelim();
  }
  w.uint32(tag(2, 2)).string(graph.name);
  for (const init of graph.initializers) {
    w.uint32(tag(5, 2)).fork();
    writeInitializer(w, init, dataDir);
    w.ldelim();
  }
  for (const t of graph.inputs) writeValueInfo(w, 11, t);
  for (const t of graph.outputs) writeValueInfo(w, 12, t);
}

function writeNode(w: Writer, n: GraphNode): void {
  for (const t of n.inputs) w.uint32(tag(1, 2)).string(t ? t.name : '');
  for (const t of n.outputs) w.uint32(tag(2, 2)).string(t.name);
  w.uint32(tag(3, 2)).string(n.name);
  w.uint32(tag(4, 2)).string(n.opType);
  if (n.domain !== '') w.uint32(tag(7, 2)).string(n.domain);
  for (const [name, a] of Object.entries(n.attributes)) {
    w.uint32(tag(5, 2)).fork();
    writeAttribute(w, name, a);
    w.ldelim();
  }
}

// AttributeProto: name 1, f 2, i 3, s 4, floats 7, ints 8, type 20 (FLOAT 1, INT 2, STRING 3, FLOATS 6, INTS 7).
function writeAttribute(w: Writer, name: string, a: Attribute): void {
  w.uint32(tag(1, 2)).string(name);
  if ('f' in a) {
    w.uint32(tag(2, 5)).float(a.f);
    w.uint32(tag(20, 0)).int32(1);
  } else if ('i' in a) {
    w.uint32(tag(3, 0)).int64(a.i);
    w.uint32(tag(20, 0)).int32(2);
  } else if ('s' in a) {
    w.uint32(tag(4, 2)).bytes(Buffer.from(a.s, 'utf8'));
    w.uint32(tag(20, 0)).int32(3);
  } else if ('floats' in a) {
    for (const v of a.floats) w.uint32(tag(7, 5)).float(v);
    w.uint32(tag(20, 0)).int32(6);
  } else {
    for (const v of a.ints) w.uint32(tag(8, 0)).int64(v);
    w.uint32(tag(20, 0)).int32(7);
  }
}

// TensorProto: dims 1, data_type 2, name 8, raw_data 9, external_data 13, data_location 14 (EXTERNAL 1).
function writeInitializer(w: Writer, init: Initializer, dataDir: string): void {
  const t = init.tensor;
  for (const d of t.shape) w.uint32(tag(1, 0)).int64(d as number);
  w.uint32(tag(2, 0)).int32(ONNX_DTYPE_CODE[t.dtype]);
  w.uint32(tag(8, 2)).string(t.name);
  if (init.kind === 'inline') {
    w.uint32(tag(9, 2)).bytes(init.bytes);
    return;
  }
  const entries: [string, string][] = [
    ['location', externalLocation(init.file, dataDir, t.name)],
    ['offset', String(init.offset)],
    ['length', String(init.byteLength)],
  ];
  for (const [key, value] of entries) {
    w.uint32(tag(13, 2)).fork(); // StringStringEntryProto: key 1, value 2
    w.uint32(tag(1, 2)).string(key);
    w.uint32(tag(2, 2)).string(value);
    w.ldelim();
  }
  w.uint32(tag(14, 0)).int32(1);
}

/** `file` relative to `dataDir` with forward slashes; an error when it lies outside. */
export function externalLocation(file: string, dataDir: string, tensorName: string): string {
  const rel = path.relative(path.resolve(dataDir), path.resolve(file));
  if (rel === '' || rel.startsWith('..') || path.isAbsolute(rel)) {
    throw new InputError(`weight '${tensorName}': file ${file} is not inside ${dataDir}, where the compiled graph must read it from`);
  }
  return rel.split(path.sep).join('/');
}

// ValueInfoProto: name 1, type 2 -> TypeProto.tensor_type 1 -> elem_type 1, shape 2 -> dim 1 -> dim_value 1 | dim_param 2.
function writeValueInfo(w: Writer, field: number, t: Tensor): void {
  w.uint32(tag(field, 2)).fork();
  w.uint32(tag(1, 2)).string(t.name);
  w.uint32(tag(2, 2)).fork();
  w.uint32(tag(1, 2)).fork();
  w.uint32(tag(1, 0)).int32(ONNX_DTYPE_CODE[t.dtype]);
  w.uint32(tag(2, 2)).fork();
  for (const d of t.shape) {
    w.uint32(tag(1, 2)).fork();
    if (typeof d === 'number') w.uint32(tag(1, 0)).int64(d);
    else w.uint32(tag(2, 2)).string(d);
    w.ldelim();
  }
  w.ldelim();
  w.ldelim();
  w.ldelim();
  w.ldelim();
}
