/**
 * Evaluation rules of the elementwise ops: broadcasting binary ops, `Where`, unary ops
 * and `Cast`, with ONNX (opset 17) semantics.
 * @since 0.1.0
 */
import type { KindsIn, OpAttrs } from '../ir/ops.js'
import type { Rule, Value } from './value.js'
import { broadcastIndex, broadcastShape, EvalError, value } from './value.js'

// -------------------------------------------------------------------------------------
// helpers
// -------------------------------------------------------------------------------------

type NoAttrs = OpAttrs['Add']

const binary =
  (f: (a: number, b: number) => number): Rule<NoAttrs> =>
  ([a, b], _, out) => {
    const shape = broadcastShape(a.shape, b.shape)
    const ia = broadcastIndex(a.shape, shape)
    const ib = broadcastIndex(b.shape, shape)
    const data = new Float64Array(ia.length)
    for (let i = 0; i < data.length; i++) data[i] = f(a.data[ia[i]], b.data[ib[i]])
    return value(out.dtype, shape, data)
  }

const unary =
  (f: (x: number) => number): Rule<NoAttrs> =>
  ([x], _, out) =>
    value(out.dtype, x.shape, x.data.map(f))

const bool = (p: boolean): number => (p ? 1 : 0)

/** Integer division truncating toward zero (C semantics, as onnxruntime does for int64). */
const intDiv = (a: number, b: number): number => {
  if (b === 0) throw new EvalError('input', 'integer division by zero')
  return Math.trunc(a / b)
}

/**
 * The error function in float64, from the all-positive series
 * `erf(x) = 2/sqrt(pi) e^(-x^2) sum_n 2^n x^(2n+1) / (1*3*...*(2n+1))` (Abramowitz & Stegun
 * 7.1.6): no cancellation, so within a few ulp; `erf(x)` rounds to ±1 past |x| = 6.
 */
export const erf = (x: number): number => {
  if (Number.isNaN(x)) return NaN
  if (Math.abs(x) >= 6) return Math.sign(x)
  let term = x
  let sum = x
  for (let n = 1; Math.abs(term) > 1e-17 * Math.abs(sum); n++) {
    term *= (2 * x * x) / (2 * n + 1)
    sum += term
  }
  return (2 / Math.sqrt(Math.PI)) * Math.exp(-x * x) * sum
}

/** ONNX Cast of one element: to int64 truncates toward zero, to bool tests `!= 0`, float32 rounding happens later. */
const castTo =
  (to: OpAttrs['Cast']['to']) =>
  (x: number): number => {
    if (to === 'bool') return bool(x !== 0)
    if (to !== 'int64') return x
    if (!Number.isFinite(x)) throw new EvalError('input', `cannot cast ${x} to int64`)
    return Math.trunc(x)
  }

// -------------------------------------------------------------------------------------
// the rules
// -------------------------------------------------------------------------------------

type Kind = KindsIn<'binary' | 'ternary' | 'unary'>

/** Rules of the elementwise ops. */
export const elementwiseRules: { readonly [K in Kind]: Rule<OpAttrs[K]> } = {
  Add: binary((a, b) => a + b),
  Sub: binary((a, b) => a - b),
  Mul: binary((a, b) => a * b),
  Div: (inputs, attrs, out) => binary(inputs[0].dtype === 'int64' ? intDiv : (a, b) => a / b)(inputs, attrs, out),
  Max: binary(Math.max),
  Min: binary(Math.min),
  Pow: binary(Math.pow),
  Equal: binary((a, b) => bool(a === b)),
  Less: binary((a, b) => bool(a < b)),
  Greater: binary((a, b) => bool(a > b)),
  And: binary((a, b) => bool(a !== 0 && b !== 0)),
  Where: ([cond, a, b], _, out) => {
    const shape = broadcastShape(cond.shape, a.shape, b.shape)
    const [ic, ia, ib] = [cond, a, b].map((v: Value) => broadcastIndex(v.shape, shape))
    const data = new Float64Array(ic.length)
    for (let i = 0; i < data.length; i++) data[i] = cond.data[ic[i]] !== 0 ? a.data[ia[i]] : b.data[ib[i]]
    return value(out.dtype, shape, data)
  },
  Neg: unary((x) => -x),
  Exp: unary(Math.exp),
  Log: unary(Math.log),
  Sqrt: unary(Math.sqrt),
  Tanh: unary(Math.tanh),
  Erf: unary(erf),
  Abs: unary(Math.abs),
  Not: unary((x) => bool(x === 0)),
  StopGradient: ([x]) => x,
  Cast: ([x], { to }) => value(to, x.shape, x.data.map(castTo(to)))
}
