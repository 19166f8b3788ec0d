/** Element types the graph builder knows, and their ONNX TensorProto.DataType codes and sizes. */

export type DType = 'float32' | 'float64' | 'int64' | 'bool' | 'float16' | 'bfloat16' | 'uint8';

/** The dtypes arithmetic runs in. float64 exists so that gradient checks can be tight. */
export type ComputeDType = 'float32' | 'float64';

/** TensorProto.DataType values from onnx.proto. */
export const ONNX_DTYPE_CODE: Readonly<Record<DType, number>> = {
  float32: 1,
  uint8: 2,
  int64: 7,
  bool: 9,
  float16: 10,
  float64: 11,
  bfloat16: 16,
};

export const DTYPE_BYTES: Readonly<Record<DType, number>> = {
  float32: 4,
  float64: 8,
  int64: 8,
  bool: 1,
  uint8: 1,
  float16: 2,
  bfloat16: 2,
};

export function isFloatDType(d: DType): boolean {
  return d === 'float32' || d === 'float64' || d === 'float16' || d === 'bfloat16';
}

/** The safetensors dtype names the model folder reports, as builder dtypes. */
export function dtypeOfSafetensors(d: 'F32' | 'F16' | 'BF16'): DType {
  return d === 'F32' ? 'float32' : d === 'F16' ? 'float16' : 'bfloat16';
}
