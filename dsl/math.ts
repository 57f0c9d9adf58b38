/**
 * Arithmetic, reductions and neural-network primitives of the DSL: the compiler's
 * builders (`compiler/ir/build.ts`) with dtypes in their types, and the composites
 * models are written with (`linear`, `gelu`, `normalize`).
 * @since 0.1.0
 */
import * as b from '../compiler/ir/build.js'
import type { DType, FloatDType } from '../compiler/ir/dtype.js'
import type { Node } from '../compiler/ir/node.js'
import type { Bool, I64, Operand, Tensor } from './tensor.js'
import { transpose } from './shape.js'

// -------------------------------------------------------------------------------------
// elementwise
// -------------------------------------------------------------------------------------

const binary =
  (op: (x: b.Operand, y: b.Operand) => Node) =>
  <D extends DType>(x: Operand<D>, y: Operand<D>): Tensor<D> =>
    op(x, y) as Tensor<D>

/** @since 0.1.0 */
export const add = binary(b.add)
export const sub = binary(b.sub)
export const mul = binary(b.mul)
export const div = binary(b.div)
export const maximum = binary(b.maximum)
export const minimum = binary(b.minimum)
export const pow = binary(b.pow)

const compare =
  (op: (x: b.Operand, y: b.Operand) => Node) =>
  <D extends DType>(x: Operand<D>, y: Operand<D>): Bool =>
    op(x, y) as Bool

export const equal = compare(b.equal)
export const less = compare(b.less)
export const greater = compare(b.greater)
export const and = (x: Bool, y: Bool): Bool => b.and(x, y) as Bool
export const not = (x: Bool): Bool => b.not(x) as Bool

/** `cond ? x : y`, broadcasting. */
export const where = <D extends DType>(cond: Bool, x: Operand<D>, y: Operand<D>): Tensor<D> => b.where(cond, x, y) as Tensor<D>

const unary =
  (op: (x: Node) => Node) =>
  <D extends DType>(x: Tensor<D>): Tensor<D> =>
    op(x) as Tensor<D>

export const neg = unary(b.neg)
export const exp = unary(b.exp)
export const log = unary(b.log)
export const sqrt = unary(b.sqrt)
export const tanh = unary(b.tanh)
export const erf = unary(b.erf)
export const abs = unary(b.abs)

/** `x` itself, but no gradient flows back through it (what feeds it is not trained by what it feeds). */
export const stopGradient = unary(b.stopGradient)

/** Converts the element type. */
export const cast = <D extends DType>(x: Tensor, to: D): Tensor<D> => b.cast(x, to) as Tensor<D>

// -------------------------------------------------------------------------------------
// contractions
// -------------------------------------------------------------------------------------

/** Batched matrix product (numpy `@`). */
export const matmul = <D extends FloatDType>(x: Tensor<D>, y: Tensor<D>): Tensor<D> => b.matmul(x, y) as Tensor<D>

/** PyTorch `Linear`: `x W^T + b` with `W` of shape [out, in]. */
export const linear = <D extends FloatDType>(x: Tensor<D>, w: Tensor<D>, bias?: Tensor<D>): Tensor<D> => {
  const y = matmul(x, transpose(w, [1, 0]))
  return bias === undefined ? y : add(y, bias)
}

/** 2-D convolution without padding: x [B,C,H,W], w [O,C,kh,kw], optional bias [O]. */
export const conv2d = <D extends FloatDType>(x: Tensor<D>, w: Tensor<D>, bias: Tensor<D> | undefined, strides: readonly [number, number]): Tensor<D> =>
  b.conv2d(x, w, bias, strides) as Tensor<D>

// -------------------------------------------------------------------------------------
// reductions
// -------------------------------------------------------------------------------------

const reducer =
  (op: (x: Node, axes: number | readonly number[], keepdims?: boolean) => Node) =>
  <D extends DType>(x: Tensor<D>, axes: number | readonly number[], keepdims = false): Tensor<D> =>
    op(x, axes, keepdims) as Tensor<D>

export const sum = reducer(b.sum)
export const mean = reducer(b.mean)
export const max = reducer(b.max)

/** Index of the largest element (first one on ties). */
export const argmax = (x: Tensor, axis: number, keepdims = false): I64 => b.argmax(x, axis, keepdims) as I64

/** The k largest (or smallest) along an axis, sorted; ties keep the lower index first. */
export const topk = <D extends DType>(x: Tensor<D>, k: number, axis = -1, largest = true): { values: Tensor<D>; indices: I64 } => {
  const r = b.topk(x, k, axis, largest)
  return { values: r.values as Tensor<D>, indices: r.indices as I64 }
}

// -------------------------------------------------------------------------------------
// neural-network primitives
// -------------------------------------------------------------------------------------

export const softmax = <D extends FloatDType>(x: Tensor<D>, axis = -1): Tensor<D> => b.softmax(x, axis) as Tensor<D>

export const logSoftmax = <D extends FloatDType>(x: Tensor<D>, axis = -1): Tensor<D> => b.logSoftmax(x, axis) as Tensor<D>

/** Layer norm over the last axis with biased variance. */
export const layerNorm = <D extends FloatDType>(x: Tensor<D>, w: Tensor<D>, bias: Tensor<D>, epsilon: number): Tensor<D> =>
  b.layerNorm(x, w, bias, epsilon) as Tensor<D>

/** `0.5 x (1 + erf(x / sqrt 2))`: the exact GELU. */
export const gelu = <D extends FloatDType>(x: Tensor<D>): Tensor<D> => mul(mul(x, 0.5), add(erf(div(x, Math.SQRT2)), 1))

/**
 * `x / max(||x||_2, eps)` over the last axis, computed as `x / sqrt(max(|x|^2, eps^2))`:
 * the same value, but a zero row gets the finite gradient `g / eps` (as PyTorch's
 * `F.normalize`), where `max(sqrt(0), eps)` would take the Sqrt VJP `0 / sqrt(0)` = NaN.
 */
export const normalize = <D extends FloatDType>(x: Tensor<D>, eps = 1e-12): Tensor<D> =>
  div(x, sqrt(maximum(sum(mul(x, x), -1, true), eps * eps)))
