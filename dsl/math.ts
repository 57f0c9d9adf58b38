/**
 * Arithmetic, reductions and neural-network primitives of the DSL.
 * @since 0.1.0
 */
import type { DType, FloatDType } from '../compiler/ir/dtype.js'
import { make } from '../compiler/ir/node.js'
import type { Bool, I64, Operand, Tensor } from './tensor.js'
import { axisOf, lift } from './tensor.js'
import { transpose } from './shape.js'

// -------------------------------------------------------------------------------------
// elementwise
// -------------------------------------------------------------------------------------

type BinaryKind = 'Add' | 'Sub' | 'Mul' | 'Div' | 'Max' | 'Min' | 'Pow'

const dtypeOf = <D extends DType>(a: Operand<D>, b: Operand<D>): D =>
  (typeof a === 'number' ? (b as Tensor<D>).dtype : a.dtype)

const binary =
  (op: BinaryKind) =>
  <D extends DType>(a: Operand<D>, b: Operand<D>): Tensor<D> => {
    const d = dtypeOf(a, b)
    return make(op, [lift(a, d), lift(b, d)], {}) as Tensor<D>
  }

/** @since 0.1.0 */
export const add = binary('Add')
export const sub = binary('Sub')
export const mul = binary('Mul')
export const div = binary('Div')
export const maximum = binary('Max')
export const minimum = binary('Min')
export const pow = binary('Pow')

const compare =
  (op: 'Equal' | 'Less' | 'Greater') =>
  <D extends DType>(a: Operand<D>, b: Operand<D>): Bool => {
    const d = dtypeOf(a, b)
    return make(op, [lift(a, d), lift(b, d)], {}) as Bool
  }

export const equal = compare('Equal')
export const less = compare('Less')
export const greater = compare('Greater')
export const and = (a: Bool, b: Bool): Bool => make('And', [a, b], {}) as Bool
export const not = (a: Bool): Bool => make('Not', [a], {}) as Bool

/** `cond ? a : b`, broadcasting. */
export const where = <D extends DType>(cond: Bool, a: Operand<D>, b: Operand<D>): Tensor<D> => {
  const d = dtypeOf(a, b)
  return make('Where', [cond, lift(a, d), lift(b, d)], {}) as Tensor<D>
}

const unary =
  (op: 'Neg' | 'Exp' | 'Log' | 'Sqrt' | 'Tanh' | 'Erf' | 'Abs') =>
  <D extends DType>(x: Tensor<D>): Tensor<D> =>
    make(op, [x], {}) as Tensor<D>

export const neg = unary('Neg')
export const exp = unary('Exp')
export const log = unary('Log')
export const sqrt = unary('Sqrt')
export const tanh = unary('Tanh')
export const erf = unary('Erf')
export const abs = unary('Abs')

/** Converts the element type. */
export const cast = <D extends DType>(x: Tensor, to: D): Tensor<D> => make('Cast', [x], { to }) as Tensor<D>

// -------------------------------------------------------------------------------------
// contractions
// -------------------------------------------------------------------------------------

/** Batched matrix product (numpy `@`). */
export const matmul = <D extends FloatDType>(a: Tensor<D>, b: Tensor<D>): Tensor<D> => make('MatMul', [a, b], {}) as Tensor<D>

/** PyTorch `Linear`: `x W^T + b` with `W` of shape [out, in]. */
export const linear = <D extends FloatDType>(x: Tensor<D>, w: Tensor<D>, b?: Tensor<D>): Tensor<D> => {
  const y = matmul(x, transpose(w, [1, 0]))
  return b === undefined ? y : add(y, b)
}

/** 2-D convolution without padding: x [B,C,H,W], w [O,C,kh,kw], optional bias [O]. */
export const conv2d = <D extends FloatDType>(x: Tensor<D>, w: Tensor<D>, b: Tensor<D> | undefined, strides: readonly [number, number]): Tensor<D> => {
  const kernel = [w.shape[2], w.shape[3]].map(Number)
  return make('Conv', b === undefined ? [x, w] : [x, w, b], { kernel, strides }) as Tensor<D>
}

// -------------------------------------------------------------------------------------
// reductions
// -------------------------------------------------------------------------------------

const reducer =
  (op: 'ReduceSum' | 'ReduceMean' | 'ReduceMax') =>
  <D extends DType>(x: Tensor<D>, axes: number | readonly number[], keepdims = false): Tensor<D> => {
    const list = (typeof axes === 'number' ? [axes] : axes).map((a) => axisOf(a, x.shape.length)).sort((p, q) => p - q)
    return make(op, [x], { axes: list, keepdims }) as Tensor<D>
  }

export const sum = reducer('ReduceSum')
export const mean = reducer('ReduceMean')
export const max = reducer('ReduceMax')

/** Index of the largest element (first one on ties). */
export const argmax = (x: Tensor, axis: number, keepdims = false): I64 =>
  make('ArgMax', [x], { axis: axisOf(axis, x.shape.length), keepdims }) as I64

/** The k largest (or smallest) along an axis, sorted; ties keep the lower index first. */
export const topk = <D extends DType>(x: Tensor<D>, k: number, axis = -1, largest = true): { values: Tensor<D>; indices: I64 } => {
  const ax = axisOf(axis, x.shape.length)
  return {
    values: make('TopK', [x], { k, axis: ax, largest, output: 0 }) as Tensor<D>,
    indices: make('TopK', [x], { k, axis: ax, largest, output: 1 }) as I64
  }
}

// -------------------------------------------------------------------------------------
// neural-network primitives
// -------------------------------------------------------------------------------------

export const softmax = <D extends FloatDType>(x: Tensor<D>, axis = -1): Tensor<D> =>
  make('Softmax', [x], { axis: axisOf(axis, x.shape.length) }) as Tensor<D>

export const logSoftmax = <D extends FloatDType>(x: Tensor<D>, axis = -1): Tensor<D> =>
  make('LogSoftmax', [x], { axis: axisOf(axis, x.shape.length) }) as Tensor<D>

/** Layer norm over the last axis with biased variance. */
export const layerNorm = <D extends FloatDType>(x: Tensor<D>, w: Tensor<D>, b: Tensor<D>, epsilon: number): Tensor<D> =>
  make('LayerNormalization', [x, w, b], { epsilon }) as Tensor<D>

/** `0.5 x (1 + erf(x / sqrt 2))`: the exact GELU. */
export const gelu = <D extends FloatDType>(x: Tensor<D>): Tensor<D> => mul(mul(x, 0.5), add(erf(div(x, Math.SQRT2)), 1))

/**
 * `x / max(||x||_2, eps)` over the last axis, computed as `x / sqrt(max(|x|^2, eps^2))`:
 * the same value, but a zero row gets the finite gradient `g / eps` (as PyTorch's
 * `F.normalize`), where `max(sqrt(0), eps)` would take the Sqrt VJP `0 / sqrt(0)` = NaN.
 */
export const normalize = <D extends FloatDType>(x: Tensor<D>, eps = 1e-12): Tensor<D> =>
  div(x, sqrt(maximum(sum(mul(x, x), -1, true), eps * eps)))
