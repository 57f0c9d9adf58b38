/**
 * Evaluation rules of the movement ops (`Reshape`, `Transpose`, `Concat`, `Slice`,
 * `Expand`, `Squeeze`, `Unsqueeze`) and the indexing ops (`Gather`, `GatherElements`,
 * `GatherND`, `ScatterNDAdd`, `OneHot`), with ONNX (opset 17) semantics. Negative
 * indices count from the end; indices out of range are an `EvalError`.
 * @since 0.1.0
 */
import type { KindsIn, OpAttrs } from '../ir/ops.js'
import { sizeOf } from '../ir/tensor.js'
import type { Rule } from './value.js'
import { broadcastIndex, broadcastShape, EvalError, lanes, ravel, stridesOf, take, unravel, value, viewIndex, wrapIndex } from './value.js'

// -------------------------------------------------------------------------------------
// helpers
// -------------------------------------------------------------------------------------

/** ONNX Slice bounds on an axis of size n: the first index read and how many are read. */
const sliceBounds = (start: number, end: number, step: number, n: number): { first: number; count: number } => {
  if (step === 0) throw new EvalError('shape', 'Slice step must not be 0')
  const clamp = (v: number, lo: number, hi: number): number => Math.min(Math.max(v, lo), hi)
  const s = start < 0 ? start + n : start
  const e = end < 0 ? end + n : end
  const [first, last] = step > 0 ? [clamp(s, 0, n), clamp(e, 0, n)] : [clamp(s, 0, n - 1), clamp(e, -1, n - 1)]
  return { first, count: Math.max(0, Math.ceil((last - first) / step)) }
}

// -------------------------------------------------------------------------------------
// the rules
// -------------------------------------------------------------------------------------

type Kind = KindsIn<'movement' | 'indexing'>

/** Rules of the movement and indexing ops. */
export const movementRules: { readonly [K in Kind]: Rule<OpAttrs[K]> } = {
  /** To the node's shape, each named dim taking its run-time size. */
  Reshape: ([x], _, out) => {
    const shape = out.shape.map(out.dim)
    if (sizeOf(shape) !== x.data.length) throw new EvalError('shape', `cannot reshape [${x.shape}] to [${shape}]`)
    return value(out.dtype, shape, x.data)
  },
  Transpose: ([x], { perm }, out) => {
    const strides = stridesOf(x.shape)
    const shape = perm.map((p) => x.shape[p])
    return value(out.dtype, shape, take(x.data, viewIndex(shape, perm.map((p) => strides[p]))))
  },
  Concat: (xs, { axis }, out) => {
    const shape = xs[0].shape.map((d, k) => (k === axis ? xs.reduce((s, x) => s + x.shape[axis], 0) : d))
    const outer = sizeOf(shape.slice(0, axis))
    const data = new Float64Array(sizeOf(shape))
    let pos = 0
    for (let o = 0; o < outer; o++) {
      for (const x of xs) {
        const block = sizeOf(x.shape.slice(axis))
        data.set(x.data.subarray(o * block, (o + 1) * block), pos)
        pos += block
      }
    }
    return value(out.dtype, shape, data)
  },
  /** An end that names a dim is that dim's run-time size (the sliced dim's own name: to the end). */
  Slice: ([x], { starts, ends, axes, steps }, out) => {
    const inStrides = stridesOf(x.shape)
    const shape = [...x.shape]
    const strides = [...inStrides]
    let offset = 0
    axes.forEach((axis, j) => {
      const { first, count } = sliceBounds(starts[j], out.dim(ends[j]), steps[j], x.shape[axis])
      shape[axis] = count
      strides[axis] = inStrides[axis] * steps[j]
      offset += first * inStrides[axis]
    })
    return value(out.dtype, shape, take(x.data, viewIndex(shape, strides, offset)))
  },
  /** Broadcasts the input against the node's shape (named dims at their run-time size). */
  Expand: ([x], _, out) => {
    const shape = broadcastShape(x.shape, out.shape.map(out.dim))
    return value(out.dtype, shape, take(x.data, broadcastIndex(x.shape, shape)))
  },
  Squeeze: ([x], { axes }, out) => {
    if (axes.some((a) => x.shape[a] !== 1)) throw new EvalError('shape', `cannot squeeze axes [${axes}] of [${x.shape}]`)
    return value(out.dtype, x.shape.filter((_, k) => !axes.includes(k)), x.data)
  },
  Unsqueeze: ([x], { axes }, out) => {
    const rest = [...x.shape]
    const shape = Array.from({ length: x.shape.length + axes.length }, (_, k) => (axes.includes(k) ? 1 : (rest.shift() as number)))
    return value(out.dtype, shape, x.data)
  },
  /** `out[o, t, i] = x[o, indices[t], i]` with o before `axis`, i after it, t over the indices. */
  Gather: ([x, indices], { axis }, out) => {
    const { outer, n, inner } = lanes(x.shape, axis)
    const m = indices.data.length
    const data = new Float64Array(outer * m * inner)
    for (let o = 0; o < outer; o++) {
      for (let t = 0; t < m; t++) {
        const j = wrapIndex(indices.data[t], n)
        data.set(x.data.subarray((o * n + j) * inner, (o * n + j + 1) * inner), (o * m + t) * inner)
      }
    }
    return value(out.dtype, [...x.shape.slice(0, axis), ...indices.shape, ...x.shape.slice(axis + 1)], data)
  },
  /** `out[p] = x[p with its axis coordinate replaced by indices[p]]`. */
  GatherElements: ([x, indices], { axis }, out) => {
    const strides = stridesOf(x.shape)
    const data = indices.data.map((v, p) => {
      const index = unravel(p, indices.shape)
      index[axis] = wrapIndex(v, x.shape[axis])
      return x.data[ravel(index, strides)]
    })
    return value(out.dtype, indices.shape, data)
  },
  /**
   * x [batch..., rest...], indices [batch..., m..., q]: each q-tuple picks a slice
   * x[b, i1..iq, ...] of the same batch entry b; out [batch..., m..., rest after q].
   */
  GatherND: ([x, indices], { batchDims }, out) => {
    const q = indices.shape[indices.shape.length - 1]
    const tuples = sizeOf(indices.shape.slice(0, -1))
    const perBatch = sizeOf(indices.shape.slice(batchDims, -1))
    const sliceShape = x.shape.slice(batchDims + q)
    const slice = sizeOf(sliceShape)
    const batchSize = sizeOf(x.shape.slice(batchDims))
    const strides = stridesOf(x.shape.slice(batchDims))
    const data = new Float64Array(tuples * slice)
    for (let t = 0; t < tuples; t++) {
      let from = Math.floor(t / perBatch) * batchSize
      for (let d = 0; d < q; d++) from += wrapIndex(indices.data[t * q + d], x.shape[batchDims + d]) * strides[d]
      data.set(x.data.subarray(from, from + slice), t * slice)
    }
    return value(out.dtype, [...indices.shape.slice(0, -1), ...sliceShape], data)
  },
  /** A copy of x, then `out[indices[t]] += updates[t]` for every tuple t (duplicates accumulate). */
  ScatterNDAdd: ([x, indices, updates], _, out) => {
    const q = indices.shape[indices.shape.length - 1]
    const tuples = sizeOf(indices.shape.slice(0, -1))
    const slice = sizeOf(x.shape.slice(q))
    const strides = stridesOf(x.shape)
    const data = x.data.slice()
    for (let t = 0; t < tuples; t++) {
      let to = 0
      for (let d = 0; d < q; d++) to += wrapIndex(indices.data[t * q + d], x.shape[d]) * strides[d]
      for (let s = 0; s < slice; s++) data[to + s] += updates.data[t * slice + s]
    }
    return value(out.dtype, x.shape, data)
  },
  /** 1 at `[..., indices[...]]`, else 0; negative indices count from depth, others out of range give a zero row. */
  OneHot: ([indices], { depth }, out) => {
    const data = new Float64Array(indices.data.length * depth)
    indices.data.forEach((v, t) => {
      const j = v < 0 ? v + depth : v
      if (j >= 0 && j < depth) data[t * depth + j] = 1
    })
    return value(out.dtype, [...indices.shape, depth], data)
  }
}
