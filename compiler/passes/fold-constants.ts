/**
 * Constant folding and exact algebraic simplification. A non-leaf node whose inputs are
 * all Constants is evaluated with the float64 reference interpreter and replaced by a
 * Constant of its dtype (float32 results rounded). Identities that change no value are
 * removed: `x*1`, `1*x`, `x/1`, `x+0`, `0+x`, `x-0` (only when the result has x's type,
 * so no broadcasting is lost), Reshape to the same shape, Transpose by the identity,
 * Reshape of Reshape, Transpose of Transpose.
 * @since 0.1.0
 */
import { evalNode } from '../eval/evaluate.js'
import { EvalError, fromHost, toHost } from '../eval/value.js'
import type { Graph } from '../ir/graph.js'
import { staticShape } from '../ir/infer.js'
import type { Node } from '../ir/node.js'
import { isOp, make, sameShape } from '../ir/node.js'
import type { HostTensor } from '../ir/tensor.js'
import { sizeOf } from '../ir/tensor.js'
import { transposeTensor } from '../ir/strided.js'
import type { Pass, PassResult } from './pass.js'
import { counter, rewrite } from './pass.js'

// -------------------------------------------------------------------------------------
// constants
// -------------------------------------------------------------------------------------

/** Default size limit: results with more elements are not evaluated (16M). */
export const defaultMaxElements = 1 << 24

const constant = (value: HostTensor): Node => make('Constant', [], { value })

const valueOf = (n: Node): HostTensor => (n as Node<'Constant'>).attrs.value

/** Reshape is free on a row-major host tensor: same data, new shape. */
const reshapeHost = (t: HostTensor, shape: readonly number[]): HostTensor => ({ dtype: t.dtype, shape: [...shape], data: t.data })


/** int64 values beyond 2^53 would not survive the float64 interpreter. */
const exactInFloat64 = (t: HostTensor): boolean => {
  if (t.dtype !== 'int64') return true
  const limit = BigInt(Number.MAX_SAFE_INTEGER)
  return (t.data as BigInt64Array).every((x) => x <= limit && x >= -limit)
}

/** Whether every element of a Constant node equals `v` (0 matches -0). */
const isFilledWith = (n: Node, v: number): boolean => {
  if (!isOp(n, 'Constant')) return false
  const t = n.attrs.value
  if (t.dtype === 'int64') return (t.data as BigInt64Array).every((x) => x === BigInt(v))
  return (t.data as Float32Array | Float64Array | Uint8Array).every((x) => x === v)
}

// -------------------------------------------------------------------------------------
// the pass
// -------------------------------------------------------------------------------------

/** Options of `foldConstantsWith`. */
export interface FoldOptions {
  /** Evaluated results with more elements than this stay unfolded (Reshape and Transpose of a Constant always fold). */
  readonly maxElements?: number
}

/**
 * Folds and simplifies. Stats, per rule that fired: `fold` (nodes evaluated),
 * `foldReshape`, `foldTranspose`, `mulOne`, `divOne`, `addZero`, `subZero`,
 * `reshapeSame`, `transposeIdentity`, `reshapeReshape`, `transposeTranspose`.
 * Nodes whose evaluation fails on their data (an index out of range) stay unfolded.
 */
export const runFoldConstants = (g: Graph, opts: FoldOptions = {}): PassResult => {
  const maxElements = opts.maxElements ?? defaultMaxElements
  const { stats, bump } = counter()
  const fired = (rule: string, n: Node): Node => (bump(rule), n)

  const fold = (n: Node, inputs: readonly Node[]): Node | null => {
    const shape = staticShape(n.shape)
    if (inputs.length === 0 || shape === null || !inputs.every((m) => m.op === 'Constant')) return null
    if (isOp(n, 'Reshape')) return fired('foldReshape', constant(reshapeHost(valueOf(inputs[0]), shape)))
    if (isOp(n, 'Transpose')) return fired('foldTranspose', constant(transposeTensor(valueOf(inputs[0]), n.attrs.perm)))
    if (sizeOf(shape) > maxElements || !inputs.every((m) => exactInFloat64(valueOf(m)))) return null
    try {
      return fired('fold', constant(toHost(evalNode(n, inputs.map((m) => fromHost(valueOf(m)))))))
    } catch (e) {
      if (e instanceof EvalError) return null
      throw e
    }
  }

  const simplify = (n: Node, inputs: readonly Node[]): Node | null => {
    const [a, b] = inputs
    const keeps = (x: Node): boolean => x.dtype === n.dtype && sameShape(x.shape, n.shape)
    switch (n.op) {
      case 'Mul':
        if (isFilledWith(b, 1) && keeps(a)) return fired('mulOne', a)
        if (isFilledWith(a, 1) && keeps(b)) return fired('mulOne', b)
        return null
      case 'Div':
        return isFilledWith(b, 1) && keeps(a) ? fired('divOne', a) : null
      case 'Add':
        if (isFilledWith(b, 0) && keeps(a)) return fired('addZero', a)
        if (isFilledWith(a, 0) && keeps(b)) return fired('addZero', b)
        return null
      case 'Sub':
        return isFilledWith(b, 0) && keeps(a) ? fired('subZero', a) : null
      case 'Reshape':
        if (keeps(a)) return fired('reshapeSame', a)
        if (isOp(a, 'Reshape')) return fired('reshapeReshape', make('Reshape', a.inputs, (n as Node<'Reshape'>).attrs))
        return null
      case 'Transpose': {
        const perm = (n as Node<'Transpose'>).attrs.perm
        if (perm.every((p, i) => p === i)) return fired('transposeIdentity', a)
        if (isOp(a, 'Transpose')) return fired('transposeTranspose', make('Transpose', a.inputs, { perm: perm.map((p) => a.attrs.perm[p]) }))
        return null
      }
      default:
        return null
    }
  }

  const r = rewrite(g, (n, inputs) => fold(n, inputs) ?? simplify(n, inputs))
  return { graph: r.graph, changed: r.changed, stats }
}

/** Constant folding with a custom size limit, as a pipeline pass. */
export const foldConstantsWith = (opts: FoldOptions): Pass => ({ name: 'foldConstants', run: (g) => runFoldConstants(g, opts) })

/** Constant folding and exact simplification with the default size limit. */
export const foldConstants: Pass = foldConstantsWith({})
