/**
 * Shape and dtype inference: one rule per op kind. A rule returns the output type or
 * a string saying why the inputs are rejected.
 * @since 0.1.0
 */
import type { DType } from './dtype.js'
import { isFloat } from './dtype.js'
import type { Dim, OpAttrs, OpKind, Shape } from './ops.js'
import type { TensorType } from './node.js'

// -------------------------------------------------------------------------------------
// helpers
// -------------------------------------------------------------------------------------

type In = readonly TensorType[]
type Rule<A> = (inputs: In, attrs: A) => TensorType | string

const show = (s: Shape): string => `[${s.join(',')}]`

/** Numpy broadcasting of two shapes, or an error string. */
export const broadcastShapes = (a: Shape, b: Shape): Shape | string => {
  const n = Math.max(a.length, b.length)
  const out: Dim[] = []
  for (let i = 0; i < n; i++) {
    const x = a[a.length - n + i] ?? 1
    const y = b[b.length - n + i] ?? 1
    if (x === y || y === 1) out.push(x)
    else if (x === 1) out.push(y)
    else return `shapes ${show(a)} and ${show(b)} do not broadcast`
  }
  return out
}

const arity = (inputs: In, n: number): string | null => (inputs.length === n ? null : `expects ${n} inputs, got ${inputs.length}`)

const sameDtype = (inputs: In): string | null =>
  inputs.every((t) => t.dtype === inputs[0].dtype) ? null : `dtypes differ: ${inputs.map((t) => t.dtype).join(', ')}`

const axisOk = (axis: number, rank: number): string | null =>
  Number.isInteger(axis) && axis >= 0 && axis < rank ? null : `axis ${axis} out of range for rank ${rank}`

const binary =
  (out: 'same' | 'bool', want: 'numeric' | 'bool' = 'numeric'): Rule<OpAttrs['Add']> =>
  (inputs) => {
    const err = arity(inputs, 2) ?? sameDtype(inputs)
    if (err !== null) return err
    if (want === 'bool' ? inputs[0].dtype !== 'bool' : inputs[0].dtype === 'bool') return `unsupported dtype ${inputs[0].dtype}`
    const shape = broadcastShapes(inputs[0].shape, inputs[1].shape)
    if (typeof shape === 'string') return shape
    return { dtype: out === 'bool' ? 'bool' : inputs[0].dtype, shape }
  }

const unary =
  (want: 'float' | 'numeric' | 'bool'): Rule<OpAttrs['Exp']> =>
  (inputs) => {
    const err = arity(inputs, 1)
    if (err !== null) return err
    const d = inputs[0].dtype
    const ok = want === 'float' ? isFloat(d) : want === 'bool' ? d === 'bool' : d !== 'bool'
    return ok ? inputs[0] : `unsupported dtype ${d}`
  }

const reduce: Rule<OpAttrs['ReduceSum']> = (inputs, { axes, keepdims }) => {
  const err = arity(inputs, 1) ?? axes.map((a) => axisOk(a, inputs[0].shape.length)).find((e) => e !== null) ?? null
  if (err !== null) return err
  if (inputs[0].dtype === 'bool') return 'cannot reduce bool'
  const shape = inputs[0].shape.flatMap((d, i) => (axes.includes(i) ? (keepdims ? [1] : []) : [d]))
  return { dtype: inputs[0].dtype, shape }
}

const normalize: Rule<OpAttrs['Softmax']> = (inputs, { axis }) =>
  arity(inputs, 1) ?? axisOk(axis, inputs[0].shape.length) ?? (isFloat(inputs[0].dtype) ? inputs[0] : `unsupported dtype ${inputs[0].dtype}`)

const isStatic = (s: Shape): s is readonly number[] => s.every((d) => typeof d === 'number')
const product = (s: readonly number[]): number => s.reduce((a, b) => a * b, 1)

/** The dims of a shape that are known numbers and those that are named. */
const splitDims = (s: Shape): { known: number; named: string[] } => ({
  known: product(s.filter((d): d is number => typeof d === 'number')),
  named: s.filter((d): d is string => typeof d === 'string').sort()
})

// -------------------------------------------------------------------------------------
// the table
// -------------------------------------------------------------------------------------

/** Inference rules, one per op kind. */
export const inferRules: { readonly [K in OpKind]: Rule<OpAttrs[K]> } = {
  Input: (inputs, a) => arity(inputs, 0) ?? { dtype: a.dtype, shape: a.shape },
  Param: (inputs, a) => arity(inputs, 0) ?? { dtype: a.dtype, shape: a.shape },
  Constant: (inputs, a) => arity(inputs, 0) ?? { dtype: a.value.dtype, shape: a.value.shape },
  Add: binary('same'),
  Sub: binary('same'),
  Mul: binary('same'),
  Div: binary('same'),
  Max: binary('same'),
  Min: binary('same'),
  Pow: binary('same'),
  Equal: (inputs, a) => (inputs[0]?.dtype === 'bool' ? binary('bool', 'bool')(inputs, a) : binary('bool')(inputs, a)),
  Less: binary('bool'),
  Greater: binary('bool'),
  And: binary('bool', 'bool'),
  Where: (inputs) => {
    const err = arity(inputs, 3) ?? (inputs[0].dtype === 'bool' ? null : 'condition must be bool') ?? sameDtype(inputs.slice(1))
    if (err !== null) return err
    const ab = broadcastShapes(inputs[1].shape, inputs[2].shape)
    if (typeof ab === 'string') return ab
    const shape = broadcastShapes(inputs[0].shape, ab)
    return typeof shape === 'string' ? shape : { dtype: inputs[1].dtype, shape }
  },
  Neg: unary('numeric'),
  Exp: unary('float'),
  Log: unary('float'),
  Sqrt: unary('float'),
  Tanh: unary('float'),
  Erf: unary('float'),
  Abs: unary('numeric'),
  Not: unary('bool'),
  StopGradient: (inputs) => arity(inputs, 1) ?? inputs[0],
  Cast: (inputs, { to }) => arity(inputs, 1) ?? { dtype: to, shape: inputs[0].shape },
  MatMul: (inputs) => {
    const err = arity(inputs, 2) ?? sameDtype(inputs)
    if (err !== null) return err
    const [a, b] = inputs
    if (!isFloat(a.dtype)) return `unsupported dtype ${a.dtype}`
    if (a.shape.length < 2 || b.shape.length < 2) return `operands must have rank >= 2, got ${show(a.shape)} and ${show(b.shape)}`
    const k1 = a.shape[a.shape.length - 1]
    const k2 = b.shape[b.shape.length - 2]
    if (k1 !== k2) return `inner dims differ: ${show(a.shape)} x ${show(b.shape)}`
    const batch = broadcastShapes(a.shape.slice(0, -2), b.shape.slice(0, -2))
    if (typeof batch === 'string') return batch
    return { dtype: a.dtype, shape: [...batch, a.shape[a.shape.length - 2], b.shape[b.shape.length - 1]] }
  },
  Conv: (inputs, { kernel, strides }) => {
    const err = (inputs.length === 2 || inputs.length === 3 ? null : 'expects x, w and optional bias') ?? sameDtype(inputs)
    if (err !== null) return err
    const [x, w] = inputs
    if (x.shape.length !== 4 || w.shape.length !== 4) return 'only 2-D convolution (rank-4 x and w) is supported'
    if (x.shape[1] !== w.shape[1]) return `channels differ: x ${show(x.shape)}, w ${show(w.shape)}`
    if (w.shape[2] !== kernel[0] || w.shape[3] !== kernel[1]) return `kernel ${show(kernel)} does not match w ${show(w.shape)}`
    if (inputs.length === 3 && (inputs[2].shape.length !== 1 || inputs[2].shape[0] !== w.shape[0])) return `bias must be [${w.shape[0]}]`
    const spatial = [2, 3].map((i) => {
      const d = x.shape[i]
      return typeof d === 'number' ? Math.floor((d - kernel[i - 2]) / strides[i - 2]) + 1 : null
    })
    if (spatial.some((d) => d === null || d <= 0)) return `spatial dims of ${show(x.shape)} must be static and at least the kernel`
    return { dtype: x.dtype, shape: [x.shape[0], w.shape[0], spatial[0] as number, spatial[1] as number] }
  },
  ReduceSum: reduce,
  ReduceMean: reduce,
  ReduceMax: reduce,
  ArgMax: (inputs, { axis, keepdims }) => {
    const err = arity(inputs, 1) ?? axisOk(axis, inputs[0].shape.length)
    if (err !== null) return err
    return { dtype: 'int64', shape: inputs[0].shape.flatMap((d, i) => (i === axis ? (keepdims ? [1] : []) : [d])) }
  },
  TopK: (inputs, { k, axis, output }) => {
    const err = arity(inputs, 1) ?? axisOk(axis, inputs[0].shape.length)
    if (err !== null) return err
    const n = inputs[0].shape[axis]
    if (!Number.isInteger(k) || k < 1 || (typeof n === 'number' && k > n)) return `k = ${k} out of range for axis of size ${n}`
    const shape = inputs[0].shape.map((d, i) => (i === axis ? k : d))
    return { dtype: output === 0 ? inputs[0].dtype : 'int64', shape }
  },
  Softmax: normalize,
  LogSoftmax: normalize,
  LayerNormalization: (inputs, { epsilon }) => {
    const err = arity(inputs, 3) ?? sameDtype(inputs) ?? (epsilon > 0 ? null : 'epsilon must be positive')
    if (err !== null) return err
    const [x, w, b] = inputs
    const last = x.shape[x.shape.length - 1]
    if (w.shape.length !== 1 || b.shape.length !== 1 || w.shape[0] !== last || b.shape[0] !== last) {
      return `scale ${show(w.shape)} and bias ${show(b.shape)} must be [${last}]`
    }
    return isFloat(x.dtype) ? x : `unsupported dtype ${x.dtype}`
  },
  Reshape: (inputs, { shape }) => {
    const err = arity(inputs, 1)
    if (err !== null) return err
    const a = splitDims(inputs[0].shape)
    const b = splitDims(shape)
    if (shape.some((d) => typeof d === 'number' && (!Number.isInteger(d) || d < 1))) return `bad target shape ${show(shape)}`
    if (a.known !== b.known || a.named.join() !== b.named.join()) return `cannot reshape ${show(inputs[0].shape)} to ${show(shape)}`
    return { dtype: inputs[0].dtype, shape }
  },
  Transpose: (inputs, { perm }) => {
    const err = arity(inputs, 1)
    if (err !== null) return err
    const r = inputs[0].shape.length
    if (perm.length !== r || [...perm].sort((x, y) => x - y).some((p, i) => p !== i)) return `perm ${show(perm)} is not a permutation of rank ${r}`
    return { dtype: inputs[0].dtype, shape: perm.map((p) => inputs[0].shape[p]) }
  },
  Concat: (inputs, { axis }) => {
    if (inputs.length < 1) return 'expects at least one input'
    const err = sameDtype(inputs) ?? axisOk(axis, inputs[0].shape.length)
    if (err !== null) return err
    const r = inputs[0].shape.length
    for (const t of inputs) {
      if (t.shape.length !== r || t.shape.some((d, i) => i !== axis && d !== inputs[0].shape[i])) {
        return `shapes ${inputs.map((u) => show(u.shape)).join(', ')} differ off axis ${axis}`
      }
    }
    const dims = inputs.map((t) => t.shape[axis])
    if (!dims.every((d): d is number => typeof d === 'number')) return 'concat axis must be static'
    return { dtype: inputs[0].dtype, shape: inputs[0].shape.map((d, i) => (i === axis ? dims.reduce((x, y) => x + y, 0) : d)) }
  },
  Slice: (inputs, { starts, ends, axes, steps }) => {
    const err = arity(inputs, 1)
    if (err !== null) return err
    const shape = [...inputs[0].shape]
    for (let j = 0; j < axes.length; j++) {
      const ax = axes[j]
      const e = axisOk(ax, shape.length)
      if (e !== null) return e
      const n = shape[ax]
      const end = ends[j]
      if (steps[j] !== 1) return 'only step 1 is supported'
      if (typeof end === 'string') {
        if (end === n) {
          // to the end of a named dim
          if (starts[j] < 0) return `slice of named dim ${n} must start at a non-negative index`
          shape[ax] = starts[j] === 0 ? n : `${n}-${starts[j]}`
        } else {
          // up to the runtime size of another named dim
          if (starts[j] !== 0) return `slice up to named dim ${end} must start at 0`
          shape[ax] = end
        }
      } else if (typeof n === 'number') {
        const s = Math.min(Math.max(starts[j] < 0 ? starts[j] + n : starts[j], 0), n)
        const t = Math.min(Math.max(end < 0 ? end + n : end, 0), n)
        shape[ax] = Math.max(t - s, 0)
      } else {
        // a static window of a named dim: the dim must be at least `end` at run time
        if (starts[j] < 0 || end < starts[j]) return `slice [${starts[j]}:${end}] of named dim ${n} must be a non-negative window`
        shape[ax] = end - starts[j]
      }
    }
    return { dtype: inputs[0].dtype, shape }
  },
  Expand: (inputs, { shape }) => {
    const err = arity(inputs, 1)
    if (err !== null) return err
    const out = broadcastShapes(inputs[0].shape, shape)
    if (typeof out === 'string') return out
    if (out.length !== shape.length || out.some((d, i) => d !== shape[i])) return `cannot expand ${show(inputs[0].shape)} to ${show(shape)}`
    return { dtype: inputs[0].dtype, shape }
  },
  Squeeze: (inputs, { axes }) => {
    const err = arity(inputs, 1) ?? axes.map((a) => axisOk(a, inputs[0].shape.length)).find((e) => e !== null) ?? null
    if (err !== null) return err
    if (axes.some((a) => inputs[0].shape[a] !== 1)) return `squeezed axes ${show(axes)} of ${show(inputs[0].shape)} must be 1`
    return { dtype: inputs[0].dtype, shape: inputs[0].shape.filter((_, i) => !axes.includes(i)) }
  },
  Unsqueeze: (inputs, { axes }) => {
    const err = arity(inputs, 1)
    if (err !== null) return err
    const r = inputs[0].shape.length + axes.length
    if (axes.some((a) => axisOk(a, r) !== null) || new Set(axes).size !== axes.length) return `bad axes ${show(axes)}`
    const rest = [...inputs[0].shape]
    return { dtype: inputs[0].dtype, shape: Array.from({ length: r }, (_, i) => (axes.includes(i) ? 1 : (rest.shift() as Dim))) }
  },
  Gather: (inputs, { axis }) => {
    const err = arity(inputs, 2) ?? axisOk(axis, inputs[0].shape.length) ?? (inputs[1].dtype === 'int64' ? null : 'indices must be int64')
    if (err !== null) return err
    const s = inputs[0].shape
    return { dtype: inputs[0].dtype, shape: [...s.slice(0, axis), ...inputs[1].shape, ...s.slice(axis + 1)] }
  },
  GatherElements: (inputs, { axis }) => {
    const err = arity(inputs, 2) ?? axisOk(axis, inputs[0].shape.length) ?? (inputs[1].dtype === 'int64' ? null : 'indices must be int64')
    if (err !== null) return err
    if (inputs[1].shape.length !== inputs[0].shape.length || inputs[1].shape.some((d, i) => i !== axis && d !== inputs[0].shape[i])) {
      return `indices ${show(inputs[1].shape)} must match data ${show(inputs[0].shape)} off axis ${axis}`
    }
    return { dtype: inputs[0].dtype, shape: inputs[1].shape }
  },
  GatherND: (inputs, { batchDims }) => {
    const err = arity(inputs, 2) ?? (inputs[1].dtype === 'int64' ? null : 'indices must be int64')
    if (err !== null) return err
    const [x, idx] = inputs
    const depth = idx.shape[idx.shape.length - 1]
    if (typeof depth !== 'number') return 'last dim of indices must be static'
    if (x.shape.slice(0, batchDims).some((d, i) => d !== idx.shape[i])) return `batch dims of ${show(x.shape)} and ${show(idx.shape)} differ`
    if (batchDims + depth > x.shape.length) return `index depth ${depth} too large for ${show(x.shape)}`
    return { dtype: x.dtype, shape: [...idx.shape.slice(0, -1), ...x.shape.slice(batchDims + depth)] }
  },
  ScatterNDAdd: (inputs) => {
    const err = arity(inputs, 3) ?? (inputs[1].dtype === 'int64' ? null : 'indices must be int64') ?? sameDtype([inputs[0], inputs[2]])
    if (err !== null) return err
    const [x, idx, upd] = inputs
    const depth = idx.shape[idx.shape.length - 1]
    if (typeof depth !== 'number' || depth > x.shape.length) return 'bad index depth'
    const want = [...idx.shape.slice(0, -1), ...x.shape.slice(depth)]
    if (want.length !== upd.shape.length || want.some((d, i) => d !== upd.shape[i])) return `updates must be ${show(want)}, got ${show(upd.shape)}`
    return x
  },
  OneHot: (inputs, { depth }) => {
    const err = arity(inputs, 1) ?? (inputs[0].dtype === 'int64' ? null : 'indices must be int64')
    if (err !== null) return err
    return Number.isInteger(depth) && depth > 0 ? { dtype: 'float32', shape: [...inputs[0].shape, depth] } : `bad depth ${depth}`
  },
  MultiHeadAttention: (inputs, { heads, outputs, output }) => {
    const err = (inputs.length === 3 || inputs.length === 4 ? null : 'expects q, k, v and an optional bias') ?? sameDtype(inputs)
    if (err !== null) return err
    const [q, k, v, bias] = inputs
    if (q.dtype !== 'float32' || [q, k, v].some((t) => t.shape.length !== 3)) return 'q, k and v must be float32 of rank 3'
    const [B, S, D] = q.shape
    const [L, dh] = [k.shape[1], typeof D === 'number' ? D / heads : NaN]
    if (!Number.isInteger(dh) || k.shape[2] !== D || v.shape[2] !== D) return `width ${D} of q, k, v must agree and divide into ${heads} heads`
    if (k.shape[0] !== B || v.shape[0] !== B || v.shape[1] !== L) return `q ${show(q.shape)}, k ${show(k.shape)}, v ${show(v.shape)} disagree on batch or length`
    if (bias !== undefined) {
      const want = [B, heads, S, L]
      if (bias.shape.length !== 4 || bias.shape.some((d, i) => d !== want[i] && !(i < 2 && d === 1))) return `bias ${show(bias.shape)} must be [${B}|1, ${heads}|1, ${S}, ${L}]`
    }
    if (output >= outputs) return `output ${output} of a node with ${outputs} outputs`
    const shape = output === 0 ? [B, S, D] : output === 3 ? [B, heads, S, L] : [B, heads, L, dh]
    return { dtype: q.dtype, shape }
  },
  SkipLayerNormalization: (inputs, { epsilon }) => {
    const err = (inputs.length === 4 || inputs.length === 5 ? null : 'expects x, skip, gamma, beta and an optional bias') ?? sameDtype(inputs)
    if (err !== null) return err
    const [x, skip, ...vectors] = inputs
    const last = x.shape[x.shape.length - 1]
    if (x.dtype !== 'float32' || x.shape.length !== skip.shape.length || x.shape.some((d, i) => d !== skip.shape[i])) return `x ${show(x.shape)} and skip ${show(skip.shape)} must be float32 of one shape`
    if (vectors.some((t) => t.shape.length !== 1 || t.shape[0] !== last)) return `gamma, beta and bias must be [${last}]`
    return epsilon > 0 ? x : 'epsilon must be positive'
  },
  BiasGelu: (inputs) => {
    const err = arity(inputs, 2) ?? sameDtype(inputs)
    if (err !== null) return err
    const [x, b] = inputs
    if (x.dtype !== 'float32' || b.shape.length !== 1 || b.shape[0] !== x.shape[x.shape.length - 1]) return `bias ${show(b.shape)} must be float32 [${x.shape[x.shape.length - 1]}]`
    return x
  },
  DynamicQuantizeMatMul: (inputs) => {
    if (inputs.length !== 3 && inputs.length !== 4) return 'expects a, b, b_scale and an optional bias'
    const [a, b, scale, bias] = inputs
    if (a.dtype !== 'float32' || b.dtype !== 'int8' || scale.dtype !== 'float32' || (bias !== undefined && bias.dtype !== 'float32')) return 'a, b_scale and bias must be float32, b int8'
    if (a.shape.length < 2 || b.shape.length !== 2) return `a must have rank >= 2 and b rank 2, got ${show(a.shape)} and ${show(b.shape)}`
    const N = b.shape[1]
    if (a.shape[a.shape.length - 1] !== b.shape[0]) return `inner dims differ: ${show(a.shape)} x ${show(b.shape)}`
    if ([scale, bias].some((t) => t !== undefined && (t.shape.length !== 1 || t.shape[0] !== N))) return `b_scale and bias must be [${N}]`
    return { dtype: 'float32', shape: [...a.shape.slice(0, -1), N] }
  }
}

/** Infers the type of `op(inputs; attrs)`, or says why it is rejected. */
export const infer = <K extends OpKind>(op: K, inputs: In, attrs: OpAttrs[K]): TensorType | string =>
  (inferRules[op] as Rule<OpAttrs[K]>)(inputs, attrs)

/** @internal */
export const staticShape = (s: Shape): readonly number[] | null => (isStatic(s) ? s : null)

export type { DType }
