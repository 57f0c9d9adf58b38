/**
 * ONNX lowering (opset 17): one rule per op kind. A rule gets the lowering context, the
 * IR node and the ONNX names of its inputs, and returns the ONNX name of the node's
 * value. Leaves lower to their own names (inputs, parameters) or to an initializer
 * (constants).
 * @since 0.1.0
 */
import { onnxDataType } from '../ir/dtype.js'
import type { Node } from '../ir/node.js'
import type { Dim, OpAttrs, OpKind } from '../ir/ops.js'
import type { LowerContext } from './context.js'
import { float, int, ints } from './context.js'
import type { Piece } from './shape-tensor.js'
import { lowerScatterNDAdd } from './scatter-add.js'
import { assemble, expandShape, reshapeShape } from './shape-tensor.js'

// -------------------------------------------------------------------------------------
// model
// -------------------------------------------------------------------------------------

/** What a rule sees of a node: its inputs, typed attributes and type. */
export type LowerNode<A> = Omit<Node, 'attrs' | 'op'> & { readonly attrs: A }

/** A lowering rule: returns the ONNX value name of the node's output. */
export type Lower<A> = (ctx: LowerContext, node: LowerNode<A>, ins: readonly string[]) => string

// -------------------------------------------------------------------------------------
// helpers
// -------------------------------------------------------------------------------------

/** The same ONNX op with no attributes. */
const direct =
  (opType: string): Lower<unknown> =>
  (ctx, _node, ins) =>
    ctx.emit(opType, ins)[0]

/** Reductions whose axes are an input (ReduceSum since 13). Empty axes reduce nothing. */
const reduceWithInput =
  (opType: string): Lower<OpAttrs['ReduceSum']> =>
  (ctx, { attrs }, ins) =>
    attrs.axes.length === 0 ? ins[0] : ctx.emit(opType, [ins[0], ctx.constInt64(attrs.axes)], { keepdims: int(attrs.keepdims) })[0]

/** Reductions whose axes are an attribute (ReduceMean, ReduceMax in opset 17). */
const reduceWithAttr =
  (opType: string): Lower<OpAttrs['ReduceSum']> =>
  (ctx, { attrs }, ins) =>
    attrs.axes.length === 0 ? ins[0] : ctx.emit(opType, ins, { axes: ints(attrs.axes), keepdims: int(attrs.keepdims) })[0]

/** Squeeze / Unsqueeze: axes as an input. Empty axes change nothing (ONNX Squeeze would squeeze all). */
const axesInput =
  (opType: string): Lower<OpAttrs['Squeeze']> =>
  (ctx, { attrs }, ins) =>
    attrs.axes.length === 0 ? ins[0] : ctx.emit(opType, [ins[0], ctx.constInt64(attrs.axes)])[0]

/** Past the end of any dim: ONNX Slice clamps it to the dim. */
const TO_END = 2 ** 62

/**
 * `[start, end)` of a slice along a dim of size `n`, as shape inference reads it: a
 * static window of a static dim is clamped; an end naming the sliced dim means "to the
 * end"; an end naming another dim is that dim's run-time size.
 */
const sliceRange = (start: number, end: Dim, n: Dim): [number, Piece] => {
  if (typeof end === 'string') return [start, end === n ? TO_END : { named: end }]
  if (typeof n !== 'number') return [start, end]
  const s = Math.min(Math.max(start < 0 ? start + n : start, 0), n)
  const t = Math.min(Math.max(end < 0 ? end + n : end, 0), n)
  return [s, Math.max(t, s)]
}

// -------------------------------------------------------------------------------------
// the table
// -------------------------------------------------------------------------------------

/** Lowering rules, one per op kind. */
export const lowerRules: { readonly [K in OpKind]: Lower<OpAttrs[K]> } = {
  // leaves
  Input: (_ctx, { attrs }) => attrs.name,
  Param: (_ctx, { attrs }) => attrs.name,
  Constant: (ctx, { attrs }) => ctx.constTensor(attrs.value),
  // elementwise, broadcasting
  Add: direct('Add'),
  Sub: direct('Sub'),
  Mul: direct('Mul'),
  Div: direct('Div'),
  Max: direct('Max'),
  Min: direct('Min'),
  Pow: direct('Pow'),
  Equal: direct('Equal'),
  Less: direct('Less'),
  Greater: direct('Greater'),
  And: direct('And'),
  Where: direct('Where'),
  // elementwise, unary
  Neg: direct('Neg'),
  Exp: direct('Exp'),
  Log: direct('Log'),
  Sqrt: direct('Sqrt'),
  Tanh: direct('Tanh'),
  Erf: direct('Erf'),
  Abs: direct('Abs'),
  Not: direct('Not'),
  // the identity: no node of its own
  StopGradient: (_ctx, _node, ins) => ins[0],
  Cast: (ctx, { attrs }, ins) => ctx.emit('Cast', ins, { to: int(onnxDataType[attrs.to]) })[0],
  // contractions
  MatMul: direct('MatMul'),
  Conv: (ctx, { attrs }, ins) => ctx.emit('Conv', ins, { kernel_shape: ints(attrs.kernel), strides: ints(attrs.strides) })[0],
  // reductions
  ReduceSum: reduceWithInput('ReduceSum'),
  ReduceMean: reduceWithAttr('ReduceMean'),
  ReduceMax: reduceWithAttr('ReduceMax'),
  ArgMax: (ctx, { attrs }, ins) => ctx.emit('ArgMax', ins, { axis: int(attrs.axis), keepdims: int(attrs.keepdims) })[0],
  TopK: (ctx, { attrs }, ins) =>
    ctx.emit('TopK', [ins[0], ctx.constInt64([attrs.k])], { axis: int(attrs.axis), largest: int(attrs.largest), sorted: int(1) }, 2)[attrs.output],
  // normalizations
  Softmax: (ctx, { attrs }, ins) => ctx.emit('Softmax', ins, { axis: int(attrs.axis) })[0],
  LogSoftmax: (ctx, { attrs }, ins) => ctx.emit('LogSoftmax', ins, { axis: int(attrs.axis) })[0],
  LayerNormalization: (ctx, { attrs }, ins) => ctx.emit('LayerNormalization', ins, { axis: int(-1), epsilon: float(attrs.epsilon) })[0],
  // movement
  Reshape: (ctx, { attrs, inputs }, ins) => ctx.emit('Reshape', [ins[0], reshapeShape(ctx, { value: ins[0], shape: inputs[0].shape }, attrs.shape)])[0],
  Transpose: (ctx, { attrs }, ins) => ctx.emit('Transpose', ins, { perm: ints(attrs.perm) })[0],
  Concat: (ctx, { attrs }, ins) => ctx.emit('Concat', ins, { axis: int(attrs.axis) })[0],
  Slice: (ctx, { attrs, inputs }, ins) => {
    const x = { value: ins[0], shape: inputs[0].shape }
    const ranges = attrs.axes.map((ax, j) => sliceRange(attrs.starts[j], attrs.ends[j], x.shape[ax]))
    const starts = ctx.constInt64(ranges.map((r) => r[0]))
    const ends = assemble(ctx, x, ranges.map((r) => r[1]))
    return ctx.emit('Slice', [ins[0], starts, ends, ctx.constInt64(attrs.axes), ctx.constInt64(attrs.steps)])[0]
  },
  Expand: (ctx, { attrs, inputs }, ins) => ctx.emit('Expand', [ins[0], expandShape(ctx, { value: ins[0], shape: inputs[0].shape }, attrs.shape)])[0],
  Squeeze: axesInput('Squeeze'),
  Unsqueeze: axesInput('Unsqueeze'),
  // indexing
  Gather: (ctx, { attrs }, ins) => ctx.emit('Gather', ins, { axis: int(attrs.axis) })[0],
  GatherElements: (ctx, { attrs }, ins) => ctx.emit('GatherElements', ins, { axis: int(attrs.axis) })[0],
  GatherND: (ctx, { attrs }, ins) => ctx.emit('GatherND', ins, { batch_dims: int(attrs.batchDims) })[0],
  ScatterNDAdd: (ctx, { inputs }, ins) => lowerScatterNDAdd(ctx, { value: ins[0], shape: inputs[0].shape }, { value: ins[1], shape: inputs[1].shape }, ins[2]),
  OneHot: (ctx, { attrs }, ins) => {
    const values = ctx.constTensor({ dtype: 'float32', shape: [2], data: new Float32Array([0, 1]) })
    return ctx.emit('OneHot', [ins[0], ctx.constInt64([attrs.depth]), values], { axis: int(-1) })[0]
  },
  // fused: com.microsoft ops (the domain's opset import is added by the emitter)
  MultiHeadAttention: (ctx, { attrs }, ins) => {
    const inputs = ins.length === 4 ? [ins[0], ins[1], ins[2], '', '', ins[3]] : ins
    return ctx.emit('MultiHeadAttention', inputs, { num_heads: int(attrs.heads), scale: float(attrs.scale) }, attrs.outputs, 'com.microsoft')[attrs.output]
  },
  SkipLayerNormalization: (ctx, { attrs }, ins) => ctx.emit('SkipLayerNormalization', ins, { epsilon: float(attrs.epsilon) }, 4, 'com.microsoft')[attrs.output],
  BiasGelu: (ctx, _node, ins) => ctx.emit('BiasGelu', ins, {}, 1, 'com.microsoft')[0],
  DynamicQuantizeMatMul: (ctx, _node, ins) => {
    const [a, b, scale, bias] = ins
    return ctx.emit('DynamicQuantizeMatMul', bias === undefined ? [a, b, scale] : [a, b, scale, '', bias], {}, 1, 'com.microsoft')[0]
  }
}

/** Lowers one node through its rule. */
export const lowerNode = <K extends OpKind>(ctx: LowerContext, node: Node<K>, ins: readonly string[]): string =>
  (lowerRules[node.op] as Lower<OpAttrs[K]>)(ctx, node, ins)
