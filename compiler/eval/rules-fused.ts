/**
 * Evaluation rules of the fused inference ops (`groups.fused`): composite reference
 * implementations written from the unfused definitions (spec section 3) and, for
 * `DynamicQuantizeMatMul`, from onnxruntime's arithmetic (A quantized to uint8 per
 * tensor with round-half-to-even, integer products, then the scales). That is what
 * onnxruntime computes when no int16 pair sum saturates, which holds for the 7-bit
 * weights the compiler emits (compiler/quantize/dynamic-int8.ts) on every x86-64 CPU.
 * @since 0.1.0
 */
import type { KindsIn, OpAttrs } from '../ir/ops.js'
import { erf } from './rules-elementwise.js'
import { reduceRules } from './rules-reduce.js'
import type { Out, Rule, Value } from './value.js'
import { broadcastIndex, value } from './value.js'

type Kind = KindsIn<'fused'>

/** `softmax(q k^T * scale + bias) v` per head, and what the other outputs expose. */
const attention: Rule<OpAttrs['MultiHeadAttention']> = ([q, k, v, bias], { heads, scale, output }, out) => {
  const [B, S, D] = q.shape
  const L = k.shape[1]
  const dh = D / heads
  const scores = new Float64Array(B * heads * S * L)
  const biasAt = bias === undefined ? null : broadcastIndex(bias.shape, [B, heads, S, L])
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < heads; h++) {
      for (let i = 0; i < S; i++) {
        for (let j = 0; j < L; j++) {
          let s = 0
          for (let d = 0; d < dh; d++) s += q.data[(b * S + i) * D + h * dh + d] * k.data[(b * L + j) * D + h * dh + d]
          const at = ((b * heads + h) * S + i) * L + j
          scores[at] = s * scale + (biasAt === null ? 0 : (bias as Value).data[biasAt[at]])
        }
      }
    }
  }
  if (output === 3) return value(out.dtype, [B, heads, S, L], scores)
  if (output !== 0) {
    const src = output === 1 ? k : v
    const data = new Float64Array(B * heads * L * dh)
    for (let b = 0; b < B; b++) for (let h = 0; h < heads; h++) for (let j = 0; j < L; j++) for (let d = 0; d < dh; d++) data[((b * heads + h) * L + j) * dh + d] = src.data[(b * L + j) * D + h * dh + d]
    return value(out.dtype, [B, heads, L, dh], data)
  }
  const probs = reduceRules.Softmax([value('float64', [B, heads, S, L], scores)], { axis: 3 }, { ...out, dtype: 'float64' })
  const data = new Float64Array(B * S * D)
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < heads; h++) {
      for (let i = 0; i < S; i++) {
        for (let d = 0; d < dh; d++) {
          let s = 0
          for (let j = 0; j < L; j++) s += probs.data[((b * heads + h) * S + i) * L + j] * v.data[(b * L + j) * D + h * dh + d]
          data[(b * S + i) * D + h * dh + d] = s
        }
      }
    }
  }
  return value(out.dtype, [B, S, D], data)
}

/** The sum `x + skip (+ bias)`, bias broadcast over the last axis. */
const skipSum = ([x, skip, , , bias]: readonly Value[]): Value => {
  const n = x.shape[x.shape.length - 1]
  return value(x.dtype, x.shape, x.data.map((a, i) => a + skip.data[i] + (bias === undefined ? 0 : bias.data[i % n])))
}

/** Round half to even, as `std::nearbyint` does in the default rounding mode. */
const roundEven = (x: number): number => {
  const r = Math.round(x)
  return Math.abs(x - Math.trunc(x)) === 0.5 && r % 2 !== 0 ? r - 1 : r
}

/** onnxruntime's dynamic quantization of A: uint8, range widened to include 0. */
const quantizeA = (a: Value): { q: Float64Array; scale: number; zero: number } => {
  let [lo, hi] = [0, 0]
  for (const x of a.data) [lo, hi] = [Math.min(lo, x), Math.max(hi, x)]
  const scale = hi === lo ? 1 : Math.fround((hi - lo) / 255)
  const zero = Math.min(255, Math.max(0, roundEven(-lo / scale)))
  return { q: a.data.map((x) => Math.min(255, Math.max(0, roundEven(x / scale) + zero))), scale, zero }
}

/** Rules of the fused ops. */
export const fusedRules: { readonly [K in Kind]: Rule<OpAttrs[K]> } = {
  MultiHeadAttention: attention,
  SkipLayerNormalization: (inputs, { epsilon, output }, out: Out) => {
    const sum = skipSum(inputs)
    return output === 3 ? sum : reduceRules.LayerNormalization([sum, inputs[2], inputs[3]], { epsilon }, out)
  },
  BiasGelu: ([x, b], _, out) => {
    const n = b.data.length
    return value(out.dtype, x.shape, x.data.map((a, i) => {
      const y = a + b.data[i % n]
      return 0.5 * y * (1 + erf(y / Math.SQRT2))
    }))
  },
  DynamicQuantizeMatMul: ([a, b, scale, bias], _, out) => {
    const [K, N] = b.shape
    const { q, scale: sa, zero } = quantizeA(a)
    const rows = a.data.length / K
    const data = new Float64Array(rows * N)
    for (let r = 0; r < rows; r++) {
      for (let n = 0; n < N; n++) {
        let s = 0
        for (let p = 0; p < K; p++) s += (q[r * K + p] - zero) * b.data[p * N + n]
        data[r * N + n] = s * sa * scale.data[n] + (bias === undefined ? 0 : bias.data[n])
      }
    }
    return value(out.dtype, [...a.shape.slice(0, -1), N], data)
  }
}
