/**
 * Row-wise work moved before a gather of rows, where the gathered value does not depend
 * on the `late` inputs but the indices do. A row-wise op (its output row [b, t] reads
 * only row [b, t] of its data inputs: layer norm over the last axis, a product with a
 * constant matrix, elementwise ops with constants that do not vary by row, slices of the
 * last axes) of `GatherND(E, idx)` becomes `GatherND(op(E), idx)`, and of a row concat
 * holding such a gather the concat of the op over its parts:
 *
 *     LN(concat([cls, gather(E, keep), fused], 1))  ->  concat([LN(cls), gather(LN(E), keep), LN(fused)], 1)
 *
 * This computes the op on every row of E instead of the gathered ones, which only pays
 * when E is shared: in the joint vision graph E is the image's tokens after the first
 * compression block's attention and `keep` depends on the text, so after this pass the
 * MLP of that block and the next block's layer norm and QKV projection read no text and
 * the prefix split (`split-prefix.ts`) computes them once per image, not once per pair.
 * @since 0.2.0
 */
import type { Node } from '../ir/node.js'
import { make } from '../ir/node.js'
import type { OpKind } from '../ir/ops.js'
import { groups } from '../ir/ops.js'
import type { Pass } from './pass.js'
import { as } from './match.js'
import { bound, rule, rulePass } from './rewrite.js'

// -------------------------------------------------------------------------------------
// dependence
// -------------------------------------------------------------------------------------

const reads = new WeakMap<Node, ReadonlySet<string>>()

/** The names of the graph inputs a node depends on (memoized; nodes are immutable). */
export const inputsRead = (n: Node): ReadonlySet<string> => {
  const known = reads.get(n)
  if (known !== undefined) return known
  // iterative post-order, so deep graphs are fine
  const stack: Node[] = [n]
  while (stack.length > 0) {
    const top = stack[stack.length - 1]
    if (reads.has(top)) {
      stack.pop()
      continue
    }
    const pending = top.inputs.filter((m) => !reads.has(m))
    if (pending.length > 0) {
      stack.push(...pending)
      continue
    }
    stack.pop()
    const s = new Set<string>(top.op === 'Input' ? [(top as Node<'Input'>).attrs.name] : [])
    for (const m of top.inputs) for (const x of reads.get(m) as ReadonlySet<string>) s.add(x)
    reads.set(top, s)
  }
  return reads.get(n) as ReadonlySet<string>
}

// -------------------------------------------------------------------------------------
// row-wise ops
// -------------------------------------------------------------------------------------

/** The ops this pass moves: the elementwise groups of the op record, a layer norm, a product, a slice. */
export const ROW_WISE_OPS: readonly OpKind[] = [...groups.unary, ...groups.binary, ...groups.ternary, 'LayerNormalization', 'MatMul', 'Slice']

/** A value that is the same for every row of a rank-`r` value it is combined with: no input, and no extent on axes 0 and 1. */
const rowConstant = (c: Node, r: number): boolean => inputsRead(c).size === 0 && c.shape.every((d, i) => i + r - c.shape.length >= 2 || d === 1)

/** Which inputs of `n` carry rows (the others are row constants), or null when `n` is not row-wise in them. */
const rowInputs = (n: Node): number[] | null => {
  const r = n.shape.length
  if (r < 3) return null
  if (n.op === 'Slice' && (n as Node<'Slice'>).attrs.axes.some((a) => a < 2)) return null
  // a product's rows come from its left input, times a constant matrix
  if (n.op === 'MatMul' && (n.inputs[1].shape.length !== 2 || inputsRead(n.inputs[1]).size > 0)) return null
  const data = n.op === 'MatMul' ? [0] : n.inputs.map((m, i) => (rowConstant(m, r) ? -1 : i)).filter((i) => i >= 0)
  const ok = data.length > 0 && data.every((i) => n.inputs[i].shape.length === r && n.inputs[i].shape[0] === n.shape[0] && n.inputs[i].shape[1] === n.shape[1])
  // a layer norm (over the last axis) takes its rows from input 0; scale and bias are per column
  return ok && (n.op !== 'LayerNormalization' || (data.length === 1 && data[0] === 0)) ? data : null
}

// -------------------------------------------------------------------------------------
// gathers
// -------------------------------------------------------------------------------------

/** `GatherND(E, idx [B, K, 1], batchDims 1)` with E free of the late inputs and idx not: E and the indices. */
const gathered = (v: Node, late: ReadonlySet<string>): { readonly rows: Node; readonly idx: Node } | null => {
  const g = as(v, 'GatherND')
  if (g === null || g.attrs.batchDims !== 1) return null
  const [rows, idx] = g.inputs
  const lateIn = (m: Node): boolean => [...inputsRead(m)].some((x) => late.has(x))
  return idx.shape.length === 3 && idx.shape[2] === 1 && rows.shape.length >= 3 && !lateIn(rows) && lateIn(idx) ? { rows, idx } : null
}

/** The parts of a row concat holding such a gather (possibly inside a nested one). */
const concatParts = (v: Node, late: ReadonlySet<string>): readonly Node[] | null => {
  const c = as(v, 'Concat')
  if (c === null || c.attrs.axis !== 1) return null
  return c.inputs.some((p) => gathered(p, late) !== null || concatParts(p, late) !== null) ? c.inputs : null
}

/**
 * `op(inputs)` with the row inputs at `data` pushed through their gather (all gathered
 * by the same indices) or their concat (all split into the same row counts); null when
 * neither applies.
 */
const lift = (op: OpKind, attrs: object, inputs: readonly Node[], data: readonly number[], late: ReadonlySet<string>): Node | null => {
  const gs = data.map((i) => gathered(inputs[i], late))
  const first = gs[0]
  if (first !== null && gs.every((g) => g !== null && g.idx === first.idx)) {
    const inner = make(op, inputs.map((x, i) => (data.includes(i) ? (gs[data.indexOf(i)] as { rows: Node }).rows : x)), attrs as never)
    return make('GatherND', [inner, first.idx], { batchDims: 1 })
  }
  const cs = data.map((i) => concatParts(inputs[i], late))
  const parts = cs[0]
  if (parts === null || cs.some((c) => c === null || c.length !== parts.length || c.some((p, k) => p.shape[1] !== parts[k].shape[1] || typeof p.shape[1] !== 'number'))) return null
  return make(
    'Concat',
    parts.map((_, k) => {
      const ins = inputs.map((x, i) => (data.includes(i) ? (cs[data.indexOf(i)] as readonly Node[])[k] : x))
      return lift(op, attrs, ins, data, late) ?? make(op, ins, attrs as never)
    }),
    { axis: 1 }
  )
}

// -------------------------------------------------------------------------------------
// pass
// -------------------------------------------------------------------------------------

/** The pass, for gathers whose indices depend on the inputs named in `late`. Stats: `rows` (ops moved). */
export const hoistRows = (late: readonly string[]): Pass => {
  const lateSet = new Set(late)
  return rulePass('hoistRows', [
    rule<Node>({
      name: 'rows',
      on: ROW_WISE_OPS,
      match: (n) => {
        const data = rowInputs(n)
        const lifted = data === null ? null : lift(n.op, n.attrs, n.inputs, data, lateSet)
        return lifted === null ? null : bound(lifted)
      },
      rewrite: (lifted) => lifted
    })
  ])
}
