/**
 * Graph builders over untyped nodes: one function per op, doing what every caller
 * needs (numbers lifted to scalars of the other operand's dtype, negative axes
 * normalized, axis lists sorted). The DSL (`dsl/`) types them for model code; the
 * compiler's own transforms (gradients, the optimizer) use them as they are.
 * @since 0.1.0
 */
import type { DType } from './dtype.js'
import type { Node } from './node.js'
import { make } from './node.js'
import type { Dim, Shape } from './ops.js'
import type { HostTensor } from './tensor.js'
import { fromNumbers } from './tensor.js'

/** A node or a number (taken as a scalar of the other operand's dtype). */
export type Operand = Node | number

// -------------------------------------------------------------------------------------
// leaves
// -------------------------------------------------------------------------------------

/** A graph input (declare it in the graph's input list too). */
export const input = (name: string, dtype: DType, shape: Shape): Node<'Input'> => make('Input', [], { name, dtype, shape })

/** A named parameter, matched by name against a checkpoint. */
export const param = (name: string, shape: Shape, dtype: DType = 'float32'): Node<'Param'> => make('Param', [], { name, dtype, shape })

/** A constant from a host tensor. */
export const constant = (value: HostTensor): Node => make('Constant', [], { value })

/** A scalar constant (rank 0). */
export const scalar = (value: number, dtype: DType): Node => constant(fromNumbers(dtype, [], [value]))

/** A rank-1 constant. */
export const vector = (values: readonly number[], dtype: DType): Node => constant(fromNumbers(dtype, [values.length], values))

/** Lifts a number to a scalar constant of the given dtype. */
export const lift = (x: Operand, dtype: DType): Node => (typeof x === 'number' ? scalar(x, dtype) : x)

/** Normalizes a possibly negative axis against a rank. */
export const axisOf = (axis: number, rank: number): number => (axis < 0 ? axis + rank : axis)

const axesOf = (axes: number | readonly number[], rank: number): number[] =>
  (typeof axes === 'number' ? [axes] : axes).map((a) => axisOf(a, rank)).sort((p, q) => p - q)

// -------------------------------------------------------------------------------------
// elementwise
// -------------------------------------------------------------------------------------

const dtypeOf = (a: Operand, b: Operand): DType => (typeof a === 'number' ? (b as Node).dtype : a.dtype)

const binary =
  (op: 'Add' | 'Sub' | 'Mul' | 'Div' | 'Max' | 'Min' | 'Pow' | 'Equal' | 'Less' | 'Greater') =>
  (a: Operand, b: Operand): Node => {
    const d = dtypeOf(a, b)
    return make(op, [lift(a, d), lift(b, d)], {})
  }

export const add = binary('Add')
export const sub = binary('Sub')
export const mul = binary('Mul')
export const div = binary('Div')
export const maximum = binary('Max')
export const minimum = binary('Min')
export const pow = binary('Pow')
export const equal = binary('Equal')
export const less = binary('Less')
export const greater = binary('Greater')
export const and = (a: Node, b: Node): Node => make('And', [a, b], {})
export const not = (a: Node): Node => make('Not', [a], {})

/** `cond ? a : b`, broadcasting. */
export const where = (cond: Node, a: Operand, b: Operand): Node => {
  const d = dtypeOf(a, b)
  return make('Where', [cond, lift(a, d), lift(b, d)], {})
}

const unary = (op: 'Neg' | 'Exp' | 'Log' | 'Sqrt' | 'Tanh' | 'Erf' | 'Abs') => (x: Node): Node => make(op, [x], {})

export const neg = unary('Neg')
export const exp = unary('Exp')
export const log = unary('Log')
export const sqrt = unary('Sqrt')
export const tanh = unary('Tanh')
export const erf = unary('Erf')
export const abs = unary('Abs')

/** `x`, through which no gradient flows. */
export const stopGradient = (x: Node): Node => make('StopGradient', [x], {})

/** Converts the element type. */
export const cast = (x: Node, to: DType): Node => make('Cast', [x], { to })

// -------------------------------------------------------------------------------------
// contractions and reductions
// -------------------------------------------------------------------------------------

/** Batched matrix product (numpy `@`). */
export const matmul = (a: Node, b: Node): Node => make('MatMul', [a, b], {})

/** 2-D convolution without padding: x [B,C,H,W], w [O,C,kh,kw], optional bias [O]. */
export const conv2d = (x: Node, w: Node, b: Node | undefined, strides: readonly [number, number]): Node => {
  const kernel = [w.shape[2], w.shape[3]].map(Number)
  return make('Conv', b === undefined ? [x, w] : [x, w, b], { kernel, strides })
}

const reducer =
  (op: 'ReduceSum' | 'ReduceMean' | 'ReduceMax') =>
  (x: Node, axes: number | readonly number[], keepdims = false): Node =>
    make(op, [x], { axes: axesOf(axes, x.shape.length), keepdims })

export const sum = reducer('ReduceSum')
export const mean = reducer('ReduceMean')
export const max = reducer('ReduceMax')

/** Index of the largest element (first one on ties). */
export const argmax = (x: Node, axis: number, keepdims = false): Node => make('ArgMax', [x], { axis: axisOf(axis, x.shape.length), keepdims })

/** The k largest (or smallest) along an axis, sorted; ties keep the lower index first. */
export const topk = (x: Node, k: number, axis = -1, largest = true): { values: Node; indices: Node } => {
  const ax = axisOf(axis, x.shape.length)
  return { values: make('TopK', [x], { k, axis: ax, largest, output: 0 }), indices: make('TopK', [x], { k, axis: ax, largest, output: 1 }) }
}

export const softmax = (x: Node, axis = -1): Node => make('Softmax', [x], { axis: axisOf(axis, x.shape.length) })
export const logSoftmax = (x: Node, axis = -1): Node => make('LogSoftmax', [x], { axis: axisOf(axis, x.shape.length) })

/** Layer norm over the last axis with biased variance. */
export const layerNorm = (x: Node, w: Node, b: Node, epsilon: number): Node => make('LayerNormalization', [x, w, b], { epsilon })

// -------------------------------------------------------------------------------------
// movement and indexing
// -------------------------------------------------------------------------------------

/** Reshapes to a target shape (named dims must be carried over by name). */
export const reshape = (x: Node, shape: Shape): Node => make('Reshape', [x], { shape })

/** Permutes axes. */
export const transpose = (x: Node, perm: readonly number[]): Node => make('Transpose', [x], { perm })

/** Swaps the last two axes. */
export const mT = (x: Node): Node => {
  const r = x.shape.length
  return transpose(x, Array.from({ length: r }, (_, i) => (i === r - 2 ? r - 1 : i === r - 1 ? r - 2 : i)))
}

/** Joins along an axis. */
export const concat = (xs: readonly Node[], axis: number): Node => make('Concat', xs, { axis: axisOf(axis, xs[0].shape.length) })

/**
 * `x[..., start:end, ...]` along one axis. Negative bounds count from the end of a
 * static dim; `end` may be a named dim (the runtime size of that dim).
 */
export const slice = (x: Node, axis: number, start: number, end: Dim): Node =>
  make('Slice', [x], { starts: [start], ends: [end], axes: [axisOf(axis, x.shape.length)], steps: [1] })

/** Broadcasts to a shape. */
export const expand = (x: Node, shape: Shape): Node => make('Expand', [x], { shape })

export const squeeze = (x: Node, axes: number | readonly number[]): Node => make('Squeeze', [x], { axes: axesOf(axes, x.shape.length) })

export const unsqueeze = (x: Node, axes: number | readonly number[]): Node =>
  make('Unsqueeze', [x], { axes: axesOf(axes, x.shape.length + (typeof axes === 'number' ? 1 : axes.length)) })

/** `x.take(indices, axis)`: embedding lookup and friends. */
export const gather = (x: Node, indices: Node, axis = 0): Node => make('Gather', [x, indices], { axis: axisOf(axis, x.shape.length) })

/** `torch.gather`: indices shaped like the output. */
export const gatherElements = (x: Node, indices: Node, axis: number): Node =>
  make('GatherElements', [x, indices], { axis: axisOf(axis, x.shape.length) })

/** ONNX GatherND with batch dims. */
export const gatherND = (x: Node, indices: Node, batchDims: number): Node => make('GatherND', [x, indices], { batchDims })

/** `out = x; out[indices] += updates` (ONNX ScatterND with reduction add). */
export const scatterNDAdd = (x: Node, indices: Node, updates: Node): Node => make('ScatterNDAdd', [x, indices, updates], {})

/** One-hot float32 encoding along a new last axis. */
export const oneHot = (indices: Node, depth: number): Node => make('OneHot', [indices], { depth })
