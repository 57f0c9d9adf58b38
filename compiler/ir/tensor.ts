/**
 * Host tensors: dense, row-major arrays with a dtype and a static shape. Used for
 * constants, weights, feeds and fetches. Not a compute type.
 * @since 0.1.0
 */
import type { DType } from './dtype.js'

// -------------------------------------------------------------------------------------
// model
// -------------------------------------------------------------------------------------

/** The typed array that backs each dtype (bool is one byte, 0 or 1). */
export interface DataOf {
  readonly float32: Float32Array
  readonly float64: Float64Array
  readonly int64: BigInt64Array
  readonly bool: Uint8Array
  /** Quantized weights (int8 quantization). */
  readonly int8: Int8Array
  /** 8-bit pixels (`cmga preprocess --raw`). */
  readonly uint8: Uint8Array
}

/** @since 0.1.0 */
export interface HostTensor<D extends DType = DType> {
  readonly dtype: D
  readonly shape: readonly number[]
  readonly data: DataOf[D]
}

// -------------------------------------------------------------------------------------
// constructors
// -------------------------------------------------------------------------------------

/** Number of elements of a static shape (1 for a scalar). */
export const sizeOf = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1)

/** Allocates zeros. */
export const zeros = <D extends DType>(dtype: D, shape: readonly number[]): HostTensor<D> => {
  const n = sizeOf(shape)
  const data = (
    dtype === 'float32'
      ? new Float32Array(n)
      : dtype === 'float64'
        ? new Float64Array(n)
        : dtype === 'int64'
          ? new BigInt64Array(n)
          : dtype === 'int8'
            ? new Int8Array(n)
            : new Uint8Array(n)
  ) as DataOf[D]
  return { dtype, shape: [...shape], data }
}

/** Builds a tensor from plain numbers (int64 values are truncated to integers). */
export const fromNumbers = <D extends DType>(dtype: D, shape: readonly number[], values: ArrayLike<number>): HostTensor<D> => {
  const t = zeros(dtype, shape)
  if (values.length !== t.data.length) {
    throw new RangeError(`fromNumbers: ${values.length} values for shape [${shape.join(', ')}]`)
  }
  if (dtype === 'int64') {
    const d = t.data as BigInt64Array
    for (let i = 0; i < values.length; i++) d[i] = BigInt(Math.trunc(values[i]))
  } else {
    const d = t.data as Float32Array | Float64Array | Uint8Array | Int8Array
    for (let i = 0; i < values.length; i++) d[i] = values[i]
  }
  return t
}

/** Reads every element as a JavaScript number. */
export const toNumbers = (t: HostTensor): Float64Array => {
  const out = new Float64Array(t.data.length)
  if (t.dtype === 'int64') {
    const d = t.data as BigInt64Array
    for (let i = 0; i < d.length; i++) out[i] = Number(d[i])
  } else {
    out.set(t.data as Float32Array | Float64Array | Uint8Array | Int8Array)
  }
  return out
}

/** The bytes of a tensor's data, in host order (a view, no copy). */
export const bytesOf = (t: HostTensor): Uint8Array => new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength)

/** dtype, shape and an FNV-1a hash of the bytes: tensors with equal contents get equal keys. */
export const contentKey = (t: HostTensor): string => {
  const bytes = bytesOf(t)
  let h = 0x811c9dc5
  for (let i = 0; i < bytes.length; i++) h = Math.imul(h ^ bytes[i], 0x01000193)
  return `${t.dtype}[${t.shape.join(',')}]#${(h >>> 0).toString(16)}:${bytes.length}`
}
