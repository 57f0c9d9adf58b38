/**
 * Movement and indexing ops of the DSL: the compiler's builders with dtypes in their
 * types, and the composites models use (`gatherRows`, `sliceFrom`).
 * @since 0.1.0
 */
import * as b from '../compiler/ir/build.js'
import type { DType } from '../compiler/ir/dtype.js'
import type { Dim, F32, I64, Shape, Tensor } from './tensor.js'
import { axisOf } from './tensor.js'

/** Reshapes to a target shape (named dims must be carried over by name). */
export const reshape = <D extends DType>(x: Tensor<D>, shape: Shape): Tensor<D> => b.reshape(x, shape) as Tensor<D>

/** Permutes axes. */
export const transpose = <D extends DType>(x: Tensor<D>, perm: readonly number[]): Tensor<D> => b.transpose(x, perm) as Tensor<D>

/** Swaps the last two axes. */
export const mT = <D extends DType>(x: Tensor<D>): Tensor<D> => b.mT(x) as Tensor<D>

/** Joins along an axis. */
export const concat = <D extends DType>(xs: readonly Tensor<D>[], axis: number): Tensor<D> => b.concat(xs, axis) as Tensor<D>

/**
 * `x[..., start:end, ...]` along one axis. Negative bounds count from the end of a
 * static dim; `end` may be a named dim (the runtime size of that dim).
 */
export const slice = <D extends DType>(x: Tensor<D>, axis: number, start: number, end: Dim): Tensor<D> => b.slice(x, axis, start, end) as Tensor<D>

/** Broadcasts to a shape. */
export const expand = <D extends DType>(x: Tensor<D>, shape: Shape): Tensor<D> => b.expand(x, shape) as Tensor<D>

export const squeeze = <D extends DType>(x: Tensor<D>, axes: number | readonly number[]): Tensor<D> => b.squeeze(x, axes) as Tensor<D>

export const unsqueeze = <D extends DType>(x: Tensor<D>, axes: number | readonly number[]): Tensor<D> => b.unsqueeze(x, axes) as Tensor<D>

/** `x.take(indices, axis)`: embedding lookup and friends. */
export const gather = <D extends DType>(x: Tensor<D>, indices: I64, axis = 0): Tensor<D> => b.gather(x, indices, axis) as Tensor<D>

/** `torch.gather`: indices shaped like the output. */
export const gatherElements = <D extends DType>(x: Tensor<D>, indices: I64, axis: number): Tensor<D> => b.gatherElements(x, indices, axis) as Tensor<D>

/**
 * Batched row gather: `x` [B, T, ...], `idx` [B, K] -> [B, K, ...], `out[b, k] = x[b, idx[b, k]]`,
 * without materializing an expanded index tensor.
 */
export const gatherRows = <D extends DType>(x: Tensor<D>, idx: I64): Tensor<D> => b.gatherND(x, b.unsqueeze(idx, idx.shape.length), 1) as Tensor<D>

/** ONNX GatherND with batch dims. */
export const gatherND = <D extends DType>(x: Tensor<D>, indices: I64, batchDims: number): Tensor<D> => b.gatherND(x, indices, batchDims) as Tensor<D>

/** `out = x; out[indices] += updates` (ONNX ScatterND with reduction add). */
export const scatterNDAdd = <D extends DType>(x: Tensor<D>, indices: I64, updates: Tensor<D>): Tensor<D> => b.scatterNDAdd(x, indices, updates) as Tensor<D>

/** One-hot float32 encoding along a new last axis. */
export const oneHot = (indices: I64, depth: number): F32 => b.oneHot(indices, depth) as F32

/** `x[..., start:, ...]` along one axis, for static and named dims alike. */
export const sliceFrom = <D extends DType>(x: Tensor<D>, axis: number, start: number): Tensor<D> => {
  const ax = axisOf(axis, x.shape.length)
  return slice(x, ax, start, x.shape[ax])
}
