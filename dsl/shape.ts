/**
 * Movement and indexing ops of the DSL.
 * @since 0.1.0
 */
import type { DType } from '../compiler/ir/dtype.js'
import { make } from '../compiler/ir/node.js'
import type { Dim, F32, I64, Shape, Tensor } from './tensor.js'
import { axisOf } from './tensor.js'

/** Reshapes to a target shape (named dims must be carried over by name). */
export const reshape = <D extends DType>(x: Tensor<D>, shape: Shape): Tensor<D> => make('Reshape', [x], { shape }) as Tensor<D>

/** Permutes axes. */
export const transpose = <D extends DType>(x: Tensor<D>, perm: readonly number[]): Tensor<D> => make('Transpose', [x], { perm }) as Tensor<D>

/** Swaps the last two axes. */
export const mT = <D extends DType>(x: Tensor<D>): Tensor<D> => {
  const r = x.shape.length
  return transpose(x, Array.from({ length: r }, (_, i) => (i === r - 2 ? r - 1 : i === r - 1 ? r - 2 : i)))
}

/** Joins along an axis. */
export const concat = <D extends DType>(xs: readonly Tensor<D>[], axis: number): Tensor<D> =>
  make('Concat', xs, { axis: axisOf(axis, xs[0].shape.length) }) as Tensor<D>

/**
 * `x[..., start:end, ...]` along one axis. Negative bounds count from the end of a
 * static dim; `end` may be a named dim (the runtime size of that dim).
 */
export const slice = <D extends DType>(x: Tensor<D>, axis: number, start: number, end: Dim): Tensor<D> =>
  make('Slice', [x], { starts: [start], ends: [end], axes: [axisOf(axis, x.shape.length)], steps: [1] }) as Tensor<D>

/** Broadcasts to a shape. */
export const expand = <D extends DType>(x: Tensor<D>, shape: Shape): Tensor<D> => make('Expand', [x], { shape }) as Tensor<D>

export const squeeze = <D extends DType>(x: Tensor<D>, axes: number | readonly number[]): Tensor<D> => {
  const list = (typeof axes === 'number' ? [axes] : axes).map((a) => axisOf(a, x.shape.length)).sort((p, q) => p - q)
  return make('Squeeze', [x], { axes: list }) as Tensor<D>
}

export const unsqueeze = <D extends DType>(x: Tensor<D>, axes: number | readonly number[]): Tensor<D> => {
  const r = x.shape.length + (typeof axes === 'number' ? 1 : axes.length)
  const list = (typeof axes === 'number' ? [axes] : axes).map((a) => axisOf(a, r)).sort((p, q) => p - q)
  return make('Unsqueeze', [x], { axes: list }) as Tensor<D>
}

/** `x.take(indices, axis)`: embedding lookup and friends. */
export const gather = <D extends DType>(x: Tensor<D>, indices: I64, axis = 0): Tensor<D> =>
  make('Gather', [x, indices], { axis: axisOf(axis, x.shape.length) }) as Tensor<D>

/** `torch.gather`: indices shaped like the output. */
export const gatherElements = <D extends DType>(x: Tensor<D>, indices: I64, axis: number): Tensor<D> =>
  make('GatherElements', [x, indices], { axis: axisOf(axis, x.shape.length) }) as Tensor<D>

/**
 * Batched row gather: `x` [B, T, ...], `idx` [B, K] -> [B, K, ...], `out[b, k] = x[b, idx[b, k]]`,
 * without materializing an expanded index tensor.
 */
export const gatherRows = <D extends DType>(x: Tensor<D>, idx: I64): Tensor<D> =>
  make('GatherND', [x, make('Unsqueeze', [idx], { axes: [idx.shape.length] }) as I64], { batchDims: 1 }) as Tensor<D>

/** ONNX GatherND with batch dims. */
export const gatherND = <D extends DType>(x: Tensor<D>, indices: I64, batchDims: number): Tensor<D> =>
  make('GatherND', [x, indices], { batchDims }) as Tensor<D>

/** `out = x; out[indices] += updates` (ONNX ScatterND with reduction add). */
export const scatterNDAdd = <D extends DType>(x: Tensor<D>, indices: I64, updates: Tensor<D>): Tensor<D> =>
  make('ScatterNDAdd', [x, indices, updates], {}) as Tensor<D>

/** One-hot float32 encoding along a new last axis. */
export const oneHot = (indices: I64, depth: number): F32 => make('OneHot', [indices], { depth }) as F32

/** A dim's static value, or throws a clear error. */
export const staticDim = (d: Dim, what: string): number => {
  if (typeof d !== 'number') throw new Error(`${what} must be static, got ${d}`)
  return d
}

/** `x[..., start:, ...]` along one axis, for static and named dims alike. */
export const sliceFrom = <D extends DType>(x: Tensor<D>, axis: number, start: number): Tensor<D> => {
  const ax = axisOf(axis, x.shape.length)
  return slice(x, ax, start, x.shape[ax])
}
