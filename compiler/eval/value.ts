/**
 * The reference interpreter's value: a dense row-major array of float64 numbers with a
 * dtype and a concrete shape, plus the index arithmetic the evaluation rules share
 * (strides, strided views, numpy broadcasting, lanes along an axis).
 * @since 0.1.0
 */
import { forEachStrided, stridesOf } from '../ir/strided.js'
import type { DType } from '../ir/dtype.js'
import type { ErrorKind } from '../errors.js'
import type { Dim, Shape } from '../ir/ops.js'
import type { HostTensor } from '../ir/tensor.js'
import { fromNumbers, sizeOf, toNumbers } from '../ir/tensor.js'

// -------------------------------------------------------------------------------------
// model
// -------------------------------------------------------------------------------------

/**
 * Every dtype is held as float64 numbers: float32 values are float32-representable,
 * int64 values are integers, bool values are 0 or 1.
 */
export interface Value {
  readonly dtype: DType
  readonly shape: readonly number[]
  readonly data: Float64Array
}

/**
 * What a rule knows of its node besides the input values: the node's dtype, its declared
 * shape (which may hold named dims) and the run-time size of any dim. Rules compute their
 * output shape from the input values; only ops whose attributes name dims (`Reshape`,
 * `Expand`, `Slice` ends) need `dim`.
 */
export interface Out {
  readonly dtype: DType
  readonly shape: Shape
  readonly dim: (d: Dim) => number
}

/** An evaluation rule: input values, the op's attributes and what is known of the output. */
export type Rule<A> = (inputs: readonly Value[], attrs: A, out: Out) => Value

/** Thrown by rules on data-dependent failures (index out of range, ...); `evaluate` returns it as a `Left`. */
export class EvalError extends Error {
  constructor(
    readonly kind: ErrorKind,
    message: string
  ) {
    super(message)
  }
}

// -------------------------------------------------------------------------------------
// constructors and conversions
// -------------------------------------------------------------------------------------

/** A value over existing data (checks that the sizes agree). */
export const value = (dtype: DType, shape: readonly number[], data: Float64Array): Value => {
  if (data.length !== sizeOf(shape)) throw new RangeError(`value: ${data.length} elements for shape [${shape.join(',')}]`)
  return { dtype, shape: [...shape], data }
}

/** Reads a host tensor (int64 and bool become plain numbers). */
export const fromHost = (t: HostTensor): Value => value(t.dtype, t.shape, toNumbers(t))

/** Writes a host tensor of the value's dtype. */
export const toHost = (v: Value): HostTensor => fromNumbers(v.dtype, v.shape, v.data)

/** Rounds one number to what the dtype can hold: float32 rounding, int64 truncation toward zero, bool 0/1. */
export const fitTo = (dtype: DType, x: number): number =>
  dtype === 'float32' ? Math.fround(x) : dtype === 'int64' || dtype === 'int8' || dtype === 'uint8' ? Math.trunc(x) : dtype === 'bool' ? (x !== 0 ? 1 : 0) : x

/** The value with every element rounded to its dtype (see `fitTo`). */
export const fit = (v: Value): Value => (v.dtype === 'float64' ? v : { ...v, data: v.data.map((x) => fitTo(v.dtype, x)) })

// -------------------------------------------------------------------------------------
// index arithmetic
// -------------------------------------------------------------------------------------

/** Row-major strides of a shape (defined beside the strided walk). */
export { stridesOf }

/** The multi-index of a flat row-major position. */
export const unravel = (flat: number, shape: readonly number[]): number[] => {
  const index = new Array<number>(shape.length)
  for (let k = shape.length - 1; k >= 0; k--) {
    index[k] = flat % shape[k]
    flat = Math.floor(flat / shape[k])
  }
  return index
}

/** The flat position of a multi-index under the given strides. */
export const ravel = (index: readonly number[], strides: readonly number[]): number =>
  index.reduce((pos, i, k) => pos + i * strides[k], 0)

/**
 * A strided view: for each element of `shape` in row-major order, the position
 * `offset + sum(index[k] * strides[k])` it reads from. Stride 0 repeats (broadcasts).
 */
export const viewIndex = (shape: readonly number[], strides: readonly number[], offset = 0): Int32Array => {
  const out = new Int32Array(sizeOf(shape))
  forEachStrided(shape, strides, offset, (k, pos) => (out[k] = pos))
  return out
}

/** The elements of `data` at the given positions. */
export const take = (data: Float64Array, positions: Int32Array): Float64Array => {
  const out = new Float64Array(positions.length)
  for (let i = 0; i < positions.length; i++) out[i] = data[positions[i]]
  return out
}

/** Numpy broadcasting of concrete shapes; throws an `EvalError` when they do not broadcast. */
export const broadcastShape = (...shapes: readonly (readonly number[])[]): number[] => {
  const rank = Math.max(...shapes.map((s) => s.length))
  const out = new Array<number>(rank).fill(1)
  for (const s of shapes) {
    for (let k = 0; k < s.length; k++) {
      const j = rank - s.length + k
      if (s[k] === out[j] || s[k] === 1) continue
      if (out[j] !== 1) throw new EvalError('input', `shapes ${shapes.map((t) => `[${t.join(',')}]`).join(' and ')} do not broadcast`)
      out[j] = s[k]
    }
  }
  return out
}

/** For each element of `outShape`, the position of the element of `inShape` that broadcasts to it. */
export const broadcastIndex = (inShape: readonly number[], outShape: readonly number[]): Int32Array => {
  const lead = outShape.length - inShape.length
  const inStrides = stridesOf(inShape)
  const strides = outShape.map((_, k) => (k < lead || inShape[k - lead] === 1 ? 0 : inStrides[k - lead]))
  return viewIndex(outShape, strides)
}

/**
 * Splits a shape around one axis: element j of lane (o, i) sits at `(o * n + j) * inner + i`,
 * for o < outer, j < n, i < inner.
 */
export const lanes = (shape: readonly number[], axis: number): { outer: number; n: number; inner: number } => ({
  outer: sizeOf(shape.slice(0, axis)),
  n: shape[axis],
  inner: sizeOf(shape.slice(axis + 1))
})

/** An index into an axis of size n, negative counting from the end (ONNX); throws when out of range. */
export const wrapIndex = (i: number, n: number): number => {
  const j = i < 0 ? i + n : i
  if (!(j >= 0 && j < n)) throw new EvalError('input', `index ${i} out of range for an axis of size ${n}`)
  return j
}
