/**
 * Small builders that gradient rules are written with: zeros of a shape, summing a
 * broadcast cotangent back to an operand's shape, counting reduced elements, and
 * scatter-adding along an axis through a one-hot product.
 * @since 0.1.0
 */
import type { DType } from '../ir/dtype.js'
import type { Node } from '../ir/node.js'
import { sameShape } from '../ir/node.js'
import type { Shape } from '../ir/ops.js'
import { cast, expand, mul, oneHot, reshape, scalar, sum, transpose, unsqueeze } from '../ir/build.js'

/** A tensor of zeros of the given type: a scalar 0 expanded (named dims are fine). */
export const zerosOf = (dtype: DType, shape: Shape): Node =>
  shape.length === 0 ? scalar(0, dtype) : expand(scalar(0, dtype), shape)

/**
 * Undoes numpy broadcasting: sums `g` over the axes along which `shape` was broadcast
 * (leading axes it lacks, and its dims of 1 where `g` has another dim, named or not),
 * then reshapes to `shape`.
 */
export const sumTo = (g: Node, shape: Shape): Node => {
  if (sameShape(g.shape, shape)) return g
  const lead = g.shape.length - shape.length
  const axes = g.shape.flatMap((d, i) => (i < lead || (shape[i - lead] === 1 && d !== 1) ? [i] : []))
  const summed = axes.length === 0 ? g : sum(g, axes, true)
  return sameShape(summed.shape, shape) ? summed : reshape(summed, shape)
}

/**
 * The number of elements of `shape` along `axes`: a plain number when those dims are
 * static, otherwise a scalar tensor counting them at run time.
 */
export const countOver = (shape: Shape, axes: readonly number[], dtype: DType): number | Node => {
  const known = axes.reduce((p, a) => (typeof shape[a] === 'number' ? p * (shape[a] as number) : p), 1)
  const named = axes.filter((a) => typeof shape[a] === 'string')
  if (named.length === 0) return known
  const ones = expand(scalar(1, dtype), named.map((a) => shape[a]))
  return mul(sum(ones, named.map((_, i) => i)), known)
}

/**
 * The transpose of `GatherElements(x, indices, axis)`: `out[..., j, ...] = sum over
 * positions p with indices[..., p, ...] = j of g[..., p, ...]`, shaped like `g` with
 * `axis` of size `n`. Built as a one-hot product summed over `axis`.
 */
export const scatterAlong = (g: Node, indices: Node, axis: number, n: number): Node => {
  const r = g.shape.length
  const hot = oneHot(indices, n)
  const oh = hot.dtype === g.dtype ? hot : cast(hot, g.dtype)
  const summed = sum(mul(unsqueeze(g, r), oh), axis) // [..., (axis removed), ..., n]
  if (axis === r - 1) return summed
  return transpose(summed, Array.from({ length: r }, (_, i) => (i < axis ? i : i === axis ? r - 1 : i - 1)))
}
