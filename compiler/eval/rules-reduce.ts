/**
 * Evaluation rules of the ops that combine many elements into one: contractions
 * (`MatMul`, `Conv`), reductions (`ReduceSum/Mean/Max`, `ArgMax`, `TopK`) and
 * normalizations (`Softmax`, `LogSoftmax`, `LayerNormalization`), with ONNX (opset 17)
 * semantics, accumulating in float64.
 * @since 0.1.0
 */
import type { KindsIn, OpAttrs } from '../ir/ops.js'
import { sizeOf } from '../ir/tensor.js'
import type { Rule } from './value.js'
import { broadcastIndex, broadcastShape, EvalError, lanes, stridesOf, value, viewIndex } from './value.js'

// -------------------------------------------------------------------------------------
// helpers
// -------------------------------------------------------------------------------------

/**
 * A reduction over `axes`: every element is folded into the output element it lands on
 * (its index with the reduced axes set to 0), then `finish` sees the accumulator and the
 * number of elements folded into it.
 */
const reduce =
  (init: number, step: (acc: number, x: number) => number, finish = (acc: number, _count: number): number => acc): Rule<OpAttrs['ReduceSum']> =>
  ([x], { axes, keepdims }, out) => {
    const kept = x.shape.map((d, k) => (axes.includes(k) ? 1 : d))
    const target = viewIndex(x.shape, stridesOf(kept).map((s, k) => (axes.includes(k) ? 0 : s)))
    const acc = new Float64Array(sizeOf(kept)).fill(init)
    for (let i = 0; i < x.data.length; i++) acc[target[i]] = step(acc[target[i]], x.data[i])
    const count = sizeOf(axes.map((k) => x.shape[k]))
    const shape = keepdims ? kept : x.shape.filter((_, k) => !axes.includes(k))
    return value(out.dtype, shape, acc.map((a) => finish(a, count)))
  }

/** Softmax or log-softmax along one axis, shifted by the lane's max for stability. */
const softmax =
  (log: boolean): Rule<OpAttrs['Softmax']> =>
  ([x], { axis }, out) => {
    const { outer, n, inner } = lanes(x.shape, axis)
    const data = new Float64Array(x.data.length)
    for (let o = 0; o < outer; o++) {
      for (let i = 0; i < inner; i++) {
        const at = (j: number): number => (o * n + j) * inner + i
        let max = -Infinity
        for (let j = 0; j < n; j++) max = Math.max(max, x.data[at(j)])
        let sum = 0
        for (let j = 0; j < n; j++) sum += Math.exp(x.data[at(j)] - max)
        for (let j = 0; j < n; j++) {
          const shifted = x.data[at(j)] - max
          data[at(j)] = log ? shifted - Math.log(sum) : Math.exp(shifted) / sum
        }
      }
    }
    return value(out.dtype, x.shape, data)
  }

// -------------------------------------------------------------------------------------
// the rules
// -------------------------------------------------------------------------------------

type Kind = KindsIn<'contraction' | 'reduce' | 'normalization'>

/** Rules of the contractions, reductions and normalizations. */
export const reduceRules: { readonly [K in Kind]: Rule<OpAttrs[K]> } = {
  /** Batched `a @ b` over rank >= 2 operands, the batch dims broadcasting. */
  MatMul: ([a, b], _, out) => {
    const [m, k] = a.shape.slice(-2)
    const [k2, n] = b.shape.slice(-2)
    if (k !== k2) throw new EvalError('shape', `MatMul inner dims differ: ${k} and ${k2}`)
    const batch = broadcastShape(a.shape.slice(0, -2), b.shape.slice(0, -2))
    const ia = broadcastIndex(a.shape.slice(0, -2), batch)
    const ib = broadcastIndex(b.shape.slice(0, -2), batch)
    const data = new Float64Array(ia.length * m * n)
    for (let t = 0; t < ia.length; t++) {
      const [A, B, C] = [ia[t] * m * k, ib[t] * k * n, t * m * n]
      for (let i = 0; i < m; i++) {
        for (let j = 0; j < n; j++) {
          let s = 0
          for (let p = 0; p < k; p++) s += a.data[A + i * k + p] * b.data[B + p * n + j]
          data[C + i * n + j] = s
        }
      }
    }
    return value(out.dtype, [...batch, m, n], data)
  },
  /** 2-D convolution, NCHW, no padding, dilation 1, one group: x [N,C,H,W], w [O,C,kh,kw], bias [O]. */
  Conv: ([x, w, bias], { strides }, out) => {
    const [N, C, H, W] = x.shape
    const [O, , kh, kw] = w.shape
    const [sh, sw] = strides
    const OH = Math.floor((H - kh) / sh) + 1
    const OW = Math.floor((W - kw) / sw) + 1
    const data = new Float64Array(N * O * OH * OW)
    let pos = 0
    for (let b = 0; b < N; b++) {
      for (let o = 0; o < O; o++) {
        for (let r = 0; r < OH; r++) {
          for (let c = 0; c < OW; c++) {
            let s = bias === undefined ? 0 : bias.data[o]
            for (let ch = 0; ch < C; ch++) {
              for (let i = 0; i < kh; i++) {
                for (let j = 0; j < kw; j++) {
                  s += x.data[((b * C + ch) * H + r * sh + i) * W + c * sw + j] * w.data[((o * C + ch) * kh + i) * kw + j]
                }
              }
            }
            data[pos++] = s
          }
        }
      }
    }
    return value(out.dtype, [N, O, OH, OW], data)
  },
  ReduceSum: reduce(0, (a, x) => a + x),
  ReduceMean: reduce(0, (a, x) => a + x, (a, count) => a / count),
  ReduceMax: reduce(-Infinity, Math.max),
  /** Index of the largest element along the axis; the first one on ties. */
  ArgMax: ([x], { axis, keepdims }, out) => {
    const { outer, n, inner } = lanes(x.shape, axis)
    const data = new Float64Array(outer * inner)
    for (let o = 0; o < outer; o++) {
      for (let i = 0; i < inner; i++) {
        const at = (j: number): number => (o * n + j) * inner + i
        let best = 0
        for (let j = 1; j < n; j++) if (x.data[at(j)] > x.data[at(best)]) best = j
        data[o * inner + i] = best
      }
    }
    const shape = x.shape.flatMap((d, k) => (k === axis ? (keepdims ? [1] : []) : [d]))
    return value(out.dtype, shape, data)
  },
  /** The k largest (or smallest) along the axis, sorted; equal values keep the lower index first. */
  TopK: ([x], { k, axis, largest, output }, out) => {
    const { outer, n, inner } = lanes(x.shape, axis)
    if (k > n) throw new EvalError('input', `TopK: k = ${k} but the axis has ${n} elements`)
    const before = (u: number, v: number): boolean => (largest ? u > v : u < v)
    const data = new Float64Array(outer * k * inner)
    for (let o = 0; o < outer; o++) {
      for (let i = 0; i < inner; i++) {
        const at = (j: number): number => (o * n + j) * inner + i
        const order = Array.from({ length: n }, (_, j) => j).sort((p, q) => {
          const [u, v] = [x.data[at(p)], x.data[at(q)]]
          return before(u, v) ? -1 : before(v, u) ? 1 : p - q
        })
        for (let j = 0; j < k; j++) data[(o * k + j) * inner + i] = output === 0 ? x.data[at(order[j])] : order[j]
      }
    }
    return value(out.dtype, x.shape.map((d, a) => (a === axis ? k : d)), data)
  },
  Softmax: softmax(false),
  LogSoftmax: softmax(true),
  /** Over the last axis: `(x - mean) / sqrt(var + epsilon) * scale + bias`, biased variance. */
  LayerNormalization: ([x, scale, bias], { epsilon }, out) => {
    const { outer, n } = lanes(x.shape, x.shape.length - 1)
    const data = new Float64Array(x.data.length)
    for (let o = 0; o < outer; o++) {
      const row = x.data.subarray(o * n, (o + 1) * n)
      const mean = row.reduce((s, v) => s + v, 0) / n
      const variance = row.reduce((s, v) => s + (v - mean) ** 2, 0) / n
      const inv = 1 / Math.sqrt(variance + epsilon)
      for (let j = 0; j < n; j++) data[o * n + j] = (row[j] - mean) * inv * scale.data[j] + bias.data[j]
    }
    return value(out.dtype, x.shape, data)
  }
}
