/**
 * Element types the IR knows, named as onnxruntime-node names them.
 * @since 0.1.0
 */

// -------------------------------------------------------------------------------------
// model
// -------------------------------------------------------------------------------------

/** @since 0.1.0 */
export type DType = 'float32' | 'float64' | 'int64' | 'bool' | 'int8' | 'uint8'

/** Floating dtypes: the only ones that carry gradients. */
export type FloatDType = 'float32' | 'float64'

/** @since 0.1.0 */
export const isFloat = (d: DType): d is FloatDType => d === 'float32' || d === 'float64'

/** ONNX TensorProto.DataType codes. */
export const onnxDataType: { readonly [K in DType]: number } = {
  float32: 1,
  int64: 7,
  bool: 9,
  float64: 11,
  int8: 3,
  uint8: 2
}

/** Bytes per element. */
export const byteSize: { readonly [K in DType]: number } = {
  float32: 4,
  int64: 8,
  bool: 1,
  float64: 8,
  int8: 1,
  uint8: 1
}

/** Whether this host stores numbers little-endian, as ONNX, safetensors and PyTorch files do. */
export const hostIsLittleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1
