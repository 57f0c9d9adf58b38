/**
 * Attention fusion: the unfused `MHA` of spec section 3 (split heads, `q k^T * scale
 * (+ bias)`, softmax, `A v`, merge heads) becomes one `MultiHeadAttention`, and the rows
 * of `A` that compression reads (`A[:, :, 0]`, the [CLS] row) are recomputed from the
 * [CLS] query alone, so the full [B, H, T, T] probabilities are never materialized.
 * (Reading the row from the fused node's score output was measured slower, see
 * bench/results.md; onnxruntime 1.30 also fails to type that output when it is not a
 * graph output.)
 * @since 0.1.0
 */
import type { Node } from '../../ir/node.js'
import { make } from '../../ir/node.js'
import type { Dim } from '../../ir/ops.js'
import type { Pass } from '../pass.js'
import { as, binary, samePerm, sameShape, scalarOf } from '../match.js'
import type { AnyRule } from '../rewrite.js'
import { bound, miss, rule, rulePass } from '../rewrite.js'

// -------------------------------------------------------------------------------------
// options
// -------------------------------------------------------------------------------------

/** How the fused attention is emitted. */
export interface AttentionOptions {
  /**
   * Whether the fused node also outputs present keys and values, which makes
   * onnxruntime take its plain path rather than its flash path (faster here for short
   * sequences, see bench/results.md). Default true.
   */
  readonly present?: boolean
}

// -------------------------------------------------------------------------------------
// patterns
// -------------------------------------------------------------------------------------

/** `Transpose(Reshape(x [B, T, D] -> [B, T, H, dh]), perm)`: x and the head count. */
const heads = (n: Node, perm: readonly number[]): { x: Node; heads: number; dh: number } | null => {
  const t = as(n, 'Transpose')
  const r = as(t?.inputs[0], 'Reshape')
  if (t === null || r === null || !samePerm(t.attrs.perm, perm)) return null
  const x = r.inputs[0]
  const s = r.attrs.shape
  if (x.shape.length !== 3 || s.length !== 4 || s[0] !== x.shape[0] || s[1] !== x.shape[1]) return null
  const [H, dh] = [s[2], s[3]]
  return typeof H === 'number' && typeof dh === 'number' && H * dh === x.shape[2] ? { x, heads: H, dh } : null
}

/** The parts of `softmax(q k^T * scale (+ bias))` over split heads. */
export interface Scores {
  readonly q: Node
  readonly k: Node
  /** `Transpose(Reshape(k), [0, 2, 3, 1])`: the keys as [B, H, dh, L]. */
  readonly kT: Node
  readonly heads: number
  readonly scale: number
  readonly bias?: Node
}

/** Matches a Softmax over the last axis of scaled (and biased) split-head scores. */
export const scores = (n: Node | undefined): Scores | string | null => {
  const sm = as(n, 'Softmax')
  if (sm === null || sm.attrs.axis !== 3 || sm.shape.length !== 4) return null
  const scaled = (m: Node): { qk: Node; scale: number } | null =>
    binary(m, 'Mul', (a, c) => {
      const s = scalarOf(c)
      return s === null || as(a, 'MatMul') === null ? null : { qk: a, scale: s }
    })
  const direct = scaled(sm.inputs[0])
  const biased = direct === null ? binary(sm.inputs[0], 'Add', (a, b) => {
    const s = scaled(a)
    return s === null ? null : { ...s, bias: b }
  }) : null
  const found = direct ?? biased
  if (found === null) return 'softmax input is not scaled q k^T (+ bias)'
  const [qh, kT] = (found.qk as Node<'MatMul'>).inputs
  const q = heads(qh, [0, 2, 1, 3])
  const k = heads(kT, [0, 2, 3, 1])
  if (q === null || k === null) return 'q or k is not split into heads by Reshape + Transpose'
  if (q.heads !== k.heads || q.dh !== k.dh) return 'q and k split differently'
  return { q: q.x, k: k.x, kT, heads: q.heads, scale: found.scale, bias: biased?.bias }
}

/** The bias as the fused node takes it: [B|1, H|1, S, L]. */
const fusedBias = (bias: Node, B: Dim, H: number, S: Dim, L: Dim): Node | string => {
  const s = bias.shape
  if (s.length !== 4) return `bias of rank ${s.length}`
  const ok = (d: Dim, full: Dim): boolean => d === 1 || d === full
  if (!ok(s[0], B) || !ok(s[1], H) || !ok(s[2], S) || s[3] !== L) return `bias [${s.join(',')}] does not broadcast to [${B},${H},${S},${L}] along keys`
  return s[2] === S ? bias : make('Expand', [bias], { shape: [s[0], s[1], S, L] })
}

const outputsOf = (o: AttentionOptions): 1 | 3 => (o.present === false ? 1 : 3)

const mha = (p: Scores, v: Node, bias: Node | undefined, o: AttentionOptions): Node =>
  make('MultiHeadAttention', bias === undefined ? [p.q, p.k, v] : [p.q, p.k, v, bias], { heads: p.heads, scale: p.scale, outputs: outputsOf(o), output: 0 })

// -------------------------------------------------------------------------------------
// rules
// -------------------------------------------------------------------------------------

/** The parts of `merge(softmax(...) v)`: the scores, the values and the fused bias. */
interface Full {
  readonly scores: Scores
  readonly v: Node
  readonly bias: Node | undefined
}

/** `merge(softmax(...) v)` -> MultiHeadAttention output 0. */
const attentionRule = (o: AttentionOptions): AnyRule =>
  rule<Full>({
    name: 'attention',
    on: ['Reshape'],
    match: (root) => {
      const t = as(root.inputs[0], 'Transpose')
      const pv = as(t?.inputs[0], 'MatMul')
      if (t === null || pv === null || !samePerm(t.attrs.perm, [0, 2, 1, 3])) return null
      const s = scores(pv.inputs[0])
      if (s === null) return null
      if (typeof s === 'string') return miss(s)
      const v = heads(pv.inputs[1], [0, 2, 1, 3])
      if (v === null || v.heads !== s.heads) return miss('v is not split into the same heads')
      if (s.q.dtype !== 'float32') return miss('not float32')
      if (!sameShape(s.k.shape, v.x.shape) || s.k.shape[2] !== s.q.shape[2]) return miss('q, k and v widths differ')
      if (!sameShape(root.shape, s.q.shape)) return miss('merged output is not shaped like q')
      const b = s.bias === undefined ? undefined : fusedBias(s.bias, s.q.shape[0], s.heads, s.q.shape[1], s.k.shape[1])
      return typeof b === 'string' ? miss(b) : bound({ scores: s, v: v.x, bias: b })
    },
    rewrite: ({ scores: s, v, bias }) => mha(s, v, bias, o)
  })

/** `softmax(...)[:, :, 0:1]` -> the softmax of the [CLS] query's scores alone. */
const clsRowRule: AnyRule = rule<Scores>({
  name: 'clsRow',
  on: ['Slice'],
  match: (n) => {
    const sl = n as Node<'Slice'>
    if (!samePerm(sl.attrs.axes, [2]) || sl.attrs.starts[0] !== 0 || sl.attrs.ends[0] !== 1) return null
    const s = scores(sl.inputs[0])
    if (s === null) return null
    if (typeof s === 'string') return miss(s)
    return s.bias !== undefined && s.bias.shape[2] !== 1 ? miss('bias varies by query row') : bound(s)
  },
  rewrite: (p) => {
    const [B, , D] = p.q.shape
    const q0 = make('Slice', [p.q], { starts: [0], ends: [1], axes: [1], steps: [1] })
    const q0h = make('Transpose', [make('Reshape', [q0], { shape: [B, 1, p.heads, (D as number) / p.heads] })], { perm: [0, 2, 1, 3] })
    const scaled = make('Mul', [make('MatMul', [q0h, p.kT], {}), make('Constant', [], { value: { dtype: 'float32', shape: [], data: new Float32Array([p.scale]) } })], {})
    return make('Softmax', [p.bias === undefined ? scaled : make('Add', [scaled, p.bias], {})], { axis: 3 })
  }
})

/** The attention fusion pass. Stats: `attention`, `clsRow`, and reasons candidates were turned down. */
export const fuseAttention = (o: AttentionOptions = {}): Pass => rulePass('fuseAttention', [clsRowRule, attentionRule(o)])
