/**
 * Gradient rules for leaves, elementwise ops, contractions, reductions and
 * normalizations. `g` is the output cotangent; `n` is the node, so rules such as `Exp`
 * reuse the forward value.
 * @since 0.1.0
 */
import { isFloat } from '../ir/dtype.js'
import type { Node } from '../ir/node.js'
import type { OpAttrs, Shape } from '../ir/ops.js'
import { raise } from '../errors.js'
import {
  add, cast, div, equal, exp, expand, greater, less, log, matmul, mean, mT, mul, neg, pow, sqrt, sub, sum, topk, unsqueeze, where
} from '../ir/build.js'
import { countOver, scatterAlong, sumTo } from './helpers.js'
import type { Vjp, VjpTable } from './vjp.js'
import { convGrad } from './vjp-conv.js'
import type { ShapeKind } from './vjp-shape.js'
import type { FusedKind } from './vjp-fused.js'

// -------------------------------------------------------------------------------------
// helpers
// -------------------------------------------------------------------------------------

type MathKind = Exclude<keyof VjpTable, ShapeKind | FusedKind>

/** No input carries a gradient (leaves, comparisons, bool ops, index outputs). */
const none: Vjp<unknown> = (n) => n.inputs.map(() => null)

/** A unary rule: the input cotangent from the input `x`, the output `y` and `g`. */
const unary =
  (rule: (x: Node, y: Node, g: Node) => Node): Vjp<OpAttrs['Exp']> =>
  (n, g) => [rule(n.inputs[0], n, g)]

/** The reduced cotangent `g` with the reduced axes put back as dims of 1. */
const keepDims = (g: Node, axes: readonly number[], keepdims: boolean): Node => (keepdims ? g : unsqueeze(g, axes))

/** Max/Min: all of `g` to the operand `pick` selects (`a` where `pick(a, b)`), half to each on ties. */
const selectGrad = (pick: typeof greater, a: Node, b: Node, g: Node): readonly Node[] => {
  const ga = where(pick(a, b), g, where(equal(a, b), mul(g, 0.5), 0))
  return [sumTo(ga, a.shape), sumTo(sub(g, ga), b.shape)]
}

const show = (s: Shape | readonly number[]): string => `[${s.join(',')}]`

// -------------------------------------------------------------------------------------
// rules
// -------------------------------------------------------------------------------------

/** Layer norm over the last axis, written with primitive ops. */
const layerNormGrad: Vjp<OpAttrs['LayerNormalization']> = (n, g) => {
  const [x, w, b] = n.inputs
  const last = x.shape.length - 1
  const xc = sub(x, mean(x, last, true))
  const rstd = div(1, sqrt(add(mean(mul(xc, xc), last, true), n.attrs.epsilon)))
  const xhat = mul(xc, rstd)
  const gxhat = mul(g, w)
  const gx = mul(rstd, sub(sub(gxhat, mean(gxhat, last, true)), mul(xhat, mean(mul(gxhat, xhat), last, true))))
  return [gx, sumTo(mul(g, xhat), w.shape), sumTo(g, b.shape)]
}

/** Rules for every op kind outside movement and indexing. */
export const mathRules: Pick<VjpTable, MathKind> = {
  Input: none,
  Param: none,
  Constant: none,
  Add: (n, g) => [sumTo(g, n.inputs[0].shape), sumTo(g, n.inputs[1].shape)],
  Sub: (n, g) => [sumTo(g, n.inputs[0].shape), sumTo(neg(g), n.inputs[1].shape)],
  Mul: ({ inputs: [a, b] }, g) => [sumTo(mul(g, b), a.shape), sumTo(mul(g, a), b.shape)],
  Div: (n, g) => {
    const [a, b] = n.inputs
    return [sumTo(div(g, b), a.shape), sumTo(neg(div(mul(g, n), b)), b.shape)]
  },
  Max: ({ inputs: [a, b] }, g) => selectGrad(greater, a, b, g),
  Min: ({ inputs: [a, b] }, g) => selectGrad(less, a, b, g),
  Pow: (n, g) => {
    // d(a^b)/db = a^b log a, taken as 0 where a = 0 (as JAX does).
    const [a, b] = n.inputs
    const ga = mul(g, mul(b, pow(a, sub(b, 1))))
    const gb = mul(g, mul(n, log(where(equal(a, 0), 1, a))))
    return [sumTo(ga, a.shape), sumTo(gb, b.shape)]
  },
  Equal: none,
  Less: none,
  Greater: none,
  And: none,
  Where: ({ inputs: [c, a, b] }, g) => [null, sumTo(where(c, g, 0), a.shape), sumTo(where(c, 0, g), b.shape)],
  Neg: unary((_x, _y, g) => neg(g)),
  Exp: unary((_x, y, g) => mul(g, y)),
  Log: unary((x, _y, g) => div(g, x)),
  Sqrt: unary((_x, y, g) => div(mul(g, 0.5), y)),
  Tanh: unary((_x, y, g) => mul(g, sub(1, mul(y, y)))),
  Erf: unary((x, _y, g) => mul(g, mul(exp(neg(mul(x, x))), 2 / Math.sqrt(Math.PI)))),
  // The subgradient at 0 is 0, as in PyTorch.
  Abs: unary((x, _y, g) => where(greater(x, 0), g, where(less(x, 0), neg(g), 0))),
  Not: none,
  StopGradient: none,
  Cast: ({ inputs: [x], dtype }, g) => [isFloat(x.dtype) && isFloat(dtype) ? (x.dtype === dtype ? g : cast(g, x.dtype)) : null],
  MatMul: ({ inputs: [a, b] }, g) => [sumTo(matmul(g, mT(b)), a.shape), sumTo(matmul(mT(a), g), b.shape)],
  Conv: convGrad,
  ReduceSum: ({ inputs: [x], attrs: { axes, keepdims } }, g) => [expand(keepDims(g, axes, keepdims), x.shape)],
  ReduceMean: ({ inputs: [x], attrs: { axes, keepdims } }, g) => [
    expand(div(keepDims(g, axes, keepdims), countOver(x.shape, axes, g.dtype)), x.shape)
  ],
  // To the maximal positions, split evenly among ties.
  ReduceMax: (n, g) => {
    const { axes, keepdims } = n.attrs
    const x = n.inputs[0]
    const mask = cast(equal(x, keepDims(n, axes, keepdims)), x.dtype)
    return [mul(mask, div(keepDims(g, axes, keepdims), sum(mask, axes, true)))]
  },
  ArgMax: none,
  // Values scatter back to the positions they came from; indices have no gradient.
  TopK: ({ inputs: [x], attrs: { k, axis, largest, output } }, g) => {
    if (output === 1) return [null]
    const size = x.shape[axis]
    if (typeof size !== 'number') return raise('shape', `TopK gradient needs a static axis, got ${show(x.shape)} axis ${axis}`)
    return [scatterAlong(g, topk(x, k, axis, largest).indices, axis, size)]
  },
  Softmax: (n, g) => [mul(n, sub(g, sum(mul(g, n), n.attrs.axis, true)))],
  LogSoftmax: (n, g) => [sub(g, mul(exp(n), sum(g, n.attrs.axis, true)))],
  LayerNormalization: layerNormGrad
}
