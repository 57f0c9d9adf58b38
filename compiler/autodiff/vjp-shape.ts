/**
 * Gradient rules for movement and indexing ops. Movement ops move the cotangent back
 * (inverse permutation, zero padding, sums over broadcast axes); gathers scatter-add
 * it back onto zeros. Index inputs never carry a gradient.
 * @since 0.1.0
 */
import type { Node } from '../ir/node.js'
import type { Dim, KindsIn, OpAttrs } from '../ir/ops.js'
import { fromNumbers } from '../ir/tensor.js'
import { raise } from '../errors.js'
import {
  and, cast, concat, constant, expand, gather, gatherND, less, matmul, maximum, minimum, mT, not, oneHot, reshape, scatterNDAdd, slice,
  squeeze, sub, transpose, unsqueeze, where
} from '../ir/build.js'
import { scatterAlong, sumTo, zerosOf } from './helpers.js'
import type { Vjp, VjpTable } from './vjp.js'

// -------------------------------------------------------------------------------------
// helpers
// -------------------------------------------------------------------------------------

/** The op kinds whose rules live here. */
export type ShapeKind = KindsIn<'movement' | 'indexing'>

const range = (from: number, to: number): number[] => Array.from({ length: Math.max(to - from, 0) }, (_, i) => from + i)

/** Transposes unless `perm` is the identity. */
const permute = (x: Node, perm: readonly number[]): Node => (perm.every((p, i) => p === i) ? x : transpose(x, perm))

const staticSize = (d: Dim, what: string): number =>
  typeof d === 'number' ? d : raise('shape', `${what} must be static for its gradient, got ${d}`)

/** `g` padded with zeros along `axis`: `before` zeros, then `g`, then `after` zeros. */
const padAxis = (g: Node, axis: number, before: number, after: number): Node => {
  const zeros = (n: number): Node[] => (n === 0 ? [] : [zerosOf(g.dtype, g.shape.map((d, i) => (i === axis ? n : d)))])
  const parts = [...zeros(before), g, ...zeros(after)]
  return parts.length === 1 ? g : concat(parts, axis)
}

/** Gather along `axis`: move the index dims to the front, ScatterNDAdd onto zeros, move back. */
const gatherGrad: Vjp<OpAttrs['Gather']> = ({ inputs: [x, idx], attrs: { axis } }, g) => {
  const [q, r] = [idx.shape.length, x.shape.length]
  const front = permute(g, [...range(axis, axis + q), ...range(0, axis), ...range(axis + q, r - 1 + q)])
  const zeros = zerosOf(g.dtype, [x.shape[axis], ...x.shape.slice(0, axis), ...x.shape.slice(axis + 1)])
  const scattered = scatterNDAdd(zeros, unsqueeze(idx, q), front)
  return [permute(scattered, [...range(1, axis + 1), 0, ...range(axis + 1, r)]), null]
}

/**
 * GatherND: with no batch dims, ScatterNDAdd onto zeros. With static batch dims, the
 * batch coordinates are made explicit as constant iotas concatenated in front of the
 * indices. With named batch dims (no iota can be built without a Range op) only the
 * `gatherRows` form is supported: depth 1, one index dim and static trailing dims,
 * scattered as a one-hot matrix product.
 */
const gatherNDGrad: Vjp<OpAttrs['GatherND']> = ({ inputs: [x, idx], attrs: { batchDims: b } }, g) => {
  const lead = idx.shape.slice(0, -1)
  if (b === 0) return [scatterNDAdd(zerosOf(g.dtype, x.shape), idx, g), null]
  const batch = x.shape.slice(0, b)
  if (batch.every((d): d is number => typeof d === 'number')) {
    const iota = (j: number): Node => {
      const shape = [...lead, 1].map((_, i) => (i === j ? batch[j] : 1))
      return expand(constant(fromNumbers('int64', shape, range(0, batch[j]))), [...lead, 1])
    }
    const full = concat([...range(0, b).map(iota), idx], lead.length)
    return [scatterNDAdd(zerosOf(g.dtype, x.shape), full, g), null]
  }
  const rest = x.shape.slice(b + 1)
  if (idx.shape[idx.shape.length - 1] !== 1 || lead.length !== b + 1 || !rest.every((d): d is number => typeof d === 'number')) {
    return raise('shape', `GatherND gradient with named batch dims supports only one index dim of depth 1 and static trailing dims, got data [${x.shape.join(',')}], indices [${idx.shape.join(',')}]`)
  }
  const R = rest.reduce((p, d) => p * d, 1)
  const hot = oneHot(squeeze(idx, lead.length), staticSize(x.shape[b], 'GatherND indexed dim'))
  const oh = hot.dtype === g.dtype ? hot : cast(hot, g.dtype) // [B..., M, T]
  const g2 = reshape(g, [...lead, R]) // [B..., M, R]
  return [reshape(matmul(mT(oh), g2), x.shape), null]
}

/**
 * The transpose of `x[s:end]` (or `x[s:]` when `end` is null) along `axis` of named size
 * `n` at most `bound`: `gx[i] = g[i - s]` for `s <= i < end`, else 0.
 */
const unsliceNamed = (g: Node, axis: number, n: string, bound: number, s: number, end: number | null): Node => {
  const iota = slice(constant(fromNumbers('int64', [bound], range(0, bound))), 0, 0, n) // [n]
  const shifted = maximum(sub(iota, s), 0)
  const idx = end === null ? shifted : minimum(shifted, Math.max(end - s - 1, 0))
  const inside = end === null ? not(less(iota, s)) : and(not(less(iota, s)), less(iota, end))
  const spread = unsqueeze(inside, range(0, g.shape.length).filter((i) => i !== axis))
  return where(spread, gather(g, idx, axis), 0)
}

/** The transpose of `x[s:end]` along `axis` of static size `n`, through `eye(n)[:, s:end]`. */
const unslice = (g: Node, axis: number, n: number, s: number, end: Dim): Node => {
  const r = g.shape.length
  const toLast = [...range(0, axis), ...range(axis + 1, r), axis]
  const rows = r === 1 ? unsqueeze(g, 0) : permute(g, toLast) // [..., m]
  const sel = slice(constant(fromNumbers(g.dtype, [n, n], range(0, n * n).map((i) => (i % (n + 1) === 0 ? 1 : 0)))), 1, s, end) // [n, m]
  const moved = matmul(rows, mT(sel)) // [..., n]
  return r === 1 ? squeeze(moved, 0) : permute(moved, toLast.map((_, i) => toLast.indexOf(i)))
}

/**
 * Slice (steps are 1): pad `g` with zeros back to the input's extent along each sliced
 * axis. A named end on a static axis (`pos_embed[0:L]`) is transposed as a product with
 * columns of an identity matrix; a slice of a named axis (`X[:, 1:]` of [B, L, D]) as a
 * masked gather through an iota of `L`, which needs a bound on `L` (`ctx.dimBounds`).
 */
const sliceGrad: Vjp<OpAttrs['Slice']> = ({ inputs: [x], attrs: { starts, ends, axes } }, g, ctx) => {
  const clamp = (v: number, n: number): number => Math.min(Math.max(v < 0 ? v + n : v, 0), n)
  let gx = g
  axes.forEach((ax, j) => {
    const [n, end] = [x.shape[ax], ends[j]]
    if (typeof n === 'string') {
      const bound = ctx.dimBounds[n] ?? raise('shape', `the gradient of a slice of named dim ${n} needs an upper bound on ${n}: pass dimBounds: { ${n}: ... } to grad`)
      gx = unsliceNamed(gx, ax, n, bound, starts[j], typeof end === 'number' ? end : null)
      return
    }
    const s = clamp(starts[j], n)
    gx = typeof end === 'number' ? padAxis(gx, ax, s, n - Math.max(clamp(end, n), s)) : unslice(gx, ax, n, s, end)
  })
  return [gx]
}

// -------------------------------------------------------------------------------------
// rules
// -------------------------------------------------------------------------------------

/** Rules for movement and indexing ops. */
export const shapeRules: Pick<VjpTable, ShapeKind> = {
  Reshape: ({ inputs: [x] }, g) => [reshape(g, x.shape)],
  Transpose: ({ attrs: { perm } }, g) => [transpose(g, perm.map((_, i) => perm.indexOf(i)))],
  Concat: ({ inputs, attrs: { axis } }, g) => {
    const sizes = inputs.map((x) => x.shape[axis] as number) // static: inference requires it
    const starts = sizes.map((_, i) => sizes.slice(0, i).reduce((p, s) => p + s, 0))
    return inputs.map((_, i) => slice(g, axis, starts[i], starts[i] + sizes[i]))
  },
  Slice: sliceGrad,
  Expand: ({ inputs: [x] }, g) => [sumTo(g, x.shape)],
  Squeeze: ({ attrs: { axes } }, g) => [unsqueeze(g, axes)],
  Unsqueeze: ({ attrs: { axes } }, g) => [squeeze(g, axes)],
  Gather: gatherGrad,
  GatherElements: ({ inputs: [x, idx], attrs: { axis } }, g) => [
    scatterAlong(g, idx, axis, staticSize(x.shape[axis], 'GatherElements axis')),
    null
  ],
  GatherND: gatherNDGrad,
  ScatterNDAdd: ({ inputs: [, idx] }, g) => [g, null, gatherND(g, idx, 0)],
  OneHot: () => [null]
}
