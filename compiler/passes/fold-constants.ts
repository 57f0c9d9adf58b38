/**
 * Constant folding and exact algebraic simplification. A non-leaf node whose inputs are
 * all Constants is evaluated with the float64 reference interpreter and replaced by a
 * Constant of its dtype (float32 results rounded). Identities that change no value are
 * removed: `x*1`, `1*x`, `x/1`, `x+0`, `0+x`, `x-0` (only when the result has x's type,
 * so no broadcasting is lost), Reshape to the same shape, Transpose by the identity,
 * Reshape of Reshape, Transpose of Transpose. Each is a rule run by the rewrite engine.
 * @since 0.1.0
 */
import { evalNode } from '../eval/evaluate.js'
import { EvalError, fromHost, toHost } from '../eval/value.js'
import type { Graph } from '../ir/graph.js'
import { staticShape } from '../ir/infer.js'
import type { Node } from '../ir/node.js'
import { isOp, make, sameShape } from '../ir/node.js'
import type { OpKind } from '../ir/ops.js'
import type { HostTensor } from '../ir/tensor.js'
import { sizeOf } from '../ir/tensor.js'
import { transposeTensor } from '../ir/strided.js'
import type { Pass, PassResult } from './pass.js'
import type { AnyRule } from './rewrite.js'
import { rulePass, runRules, simpleRule } from './rewrite.js'
import { binary } from './match.js'

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
// rules
// -------------------------------------------------------------------------------------

/** Options of `foldConstantsWith`. */
export interface FoldOptions {
  /** Evaluated results with more elements than this stay unfolded (Reshape and Transpose of a Constant always fold). */
  readonly maxElements?: number
}

/** The node's static shape when every input is a Constant, else null. */
const foldable = (n: Node): readonly number[] | null =>
  n.inputs.length === 0 || !n.inputs.every((m) => m.op === 'Constant') ? null : staticShape(n.shape)

/** Whether `x` can stand for `n` (same dtype and shape: no broadcasting is lost). */
const keeps = (n: Node, x: Node): boolean => x.dtype === n.dtype && sameShape(x.shape, n.shape)

/** `x op c` -> x where c is filled with `v` (either operand when `op` commutes). */
const identity = (name: string, op: 'Add' | 'Sub' | 'Mul' | 'Div', v: number): AnyRule =>
  simpleRule(name, [op], (n) => binary(n, op, (x, c) => (isFilledWith(c, v) && keeps(n, x) ? x : null)))

/** The folding and simplification rules, in the order they are tried. */
export const foldRules = (o: FoldOptions = {}): readonly AnyRule[] => {
  const maxElements = o.maxElements ?? defaultMaxElements
  return [
    simpleRule('foldReshape', ['Reshape'], (n) => {
      const shape = foldable(n)
      return shape === null ? null : constant(reshapeHost(valueOf(n.inputs[0]), shape))
    }),
    simpleRule('foldTranspose', ['Transpose'], (n) => (foldable(n) === null ? null : constant(transposeTensor(valueOf(n.inputs[0]), (n as Node<'Transpose'>).attrs.perm)))),
    simpleRule('fold', undefined, (n) => {
      const shape = n.op === 'Reshape' || n.op === 'Transpose' ? null : foldable(n)
      if (shape === null || sizeOf(shape) > maxElements || !n.inputs.every((m) => exactInFloat64(valueOf(m)))) return null
      try {
        return constant(toHost(evalNode(n, n.inputs.map((m) => fromHost(valueOf(m))))))
      } catch (e) {
        if (e instanceof EvalError) return null
        throw e
      }
    }),
    identity('mulOne', 'Mul', 1),
    identity('divOne', 'Div', 1),
    identity('addZero', 'Add', 0),
    identity('subZero', 'Sub', 0),
    simpleRule('reshapeSame', ['Reshape'], (n) => (keeps(n, n.inputs[0]) ? n.inputs[0] : null)),
    simpleRule('reshapeReshape', ['Reshape'], (n) => (isOp(n.inputs[0], 'Reshape') ? make('Reshape', n.inputs[0].inputs, (n as Node<'Reshape'>).attrs) : null)),
    simpleRule('transposeIdentity', ['Transpose'], (n) => ((n as Node<'Transpose'>).attrs.perm.every((p, i) => p === i) ? n.inputs[0] : null)),
    simpleRule('transposeTranspose', ['Transpose'], (n) => {
      const [a, perm] = [n.inputs[0], (n as Node<'Transpose'>).attrs.perm]
      return isOp(a, 'Transpose') ? make('Transpose', a.inputs, { perm: perm.map((p) => a.attrs.perm[p]) }) : null
    })
  ]
}

// -------------------------------------------------------------------------------------
// the pass
// -------------------------------------------------------------------------------------

/**
 * Folds and simplifies. Stats, per rule that fired: `fold` (nodes evaluated),
 * `foldReshape`, `foldTranspose`, `mulOne`, `divOne`, `addZero`, `subZero`,
 * `reshapeSame`, `transposeIdentity`, `reshapeReshape`, `transposeTranspose`.
 * Nodes whose evaluation fails on their data (an index out of range) stay unfolded.
 */
export const runFoldConstants = (g: Graph, opts: FoldOptions = {}): PassResult => runRules(g, foldRules(opts))

/** Constant folding with a custom size limit, as a pipeline pass. */
export const foldConstantsWith = (opts: FoldOptions): Pass => rulePass('foldConstants', foldRules(opts))

/** Constant folding and exact simplification with the default size limit. */
export const foldConstants: Pass = foldConstantsWith({})
