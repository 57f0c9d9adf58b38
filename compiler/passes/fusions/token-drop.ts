/**
 * Token dropping without a mask (spec section 5, `compress`). The model writes the
 * fused token with a kept-mask built from one-hot rows ([B, K, M]); this rewrites it
 * over the dropped candidates alone: one full TopK of the scores orders every
 * candidate, its last M - K entries are the dropped ones (ties break to the lower index
 * exactly as the kept TopK does), and `fused = (s_d . rows_d) / max(sum s_d, eps)` over
 * their M - K gathered rows. No mask, no scatter, no [B, K, D] index tensor, and every
 * count is static, so every shape stays exact.
 *
 * The form "(s . all) - (s_kept . kept)" was measured first and rejected: when the
 * kept tokens carry nearly all the score mass (the fixture's trained weights) the
 * subtraction cancels, and the fused token was off by 1.2e-3 in float32.
 * @since 0.1.0
 */
import type { Node } from '../../ir/node.js'
import { make } from '../../ir/node.js'
import type { Pass } from '../pass.js'
import { as, binary, isScalar, samePerm, scalarOf } from '../match.js'
import { checked, rule, rulePass } from '../rewrite.js'

/** The parts of `matmul(unsqueeze(w, 1), candidates)` with the masked, normalized weights `w`. */
interface Fused {
  readonly s: Node
  readonly keep: Node
  readonly candidates: Node
  readonly eps: number
}

/** `w0 = s * (1 - sum(oneHot(keep, M), 1))`: s and keep. */
const masked = (w0: Node): { s: Node; keep: Node } | null =>
  binary(w0, 'Mul', (s, notKept) => {
    const sub = as(notKept, 'Sub')
    if (sub === null || !isScalar(sub.inputs[0], 1)) return null
    const sum = as(sub.inputs[1], 'ReduceSum')
    const hot = as(sum?.inputs[0], 'OneHot')
    return sum === null || hot === null || !samePerm(sum.attrs.axes, [1]) || sum.attrs.keepdims ? null : { s, keep: hot.inputs[0] }
  })

const pattern = (n: Node): Fused | null => {
  const mm = as(n, 'MatMul')
  const un = as(mm?.inputs[0], 'Unsqueeze')
  const div = as(un?.inputs[0], 'Div')
  if (mm === null || un === null || div === null || !samePerm(un.attrs.axes, [1])) return null
  const [w0, den] = div.inputs
  const eps = binary(den, 'Max', (sum, e) => {
    const r = as(sum, 'ReduceSum')
    return r !== null && r.inputs[0] === w0 && r.attrs.keepdims && samePerm(r.attrs.axes, [1]) ? scalarOf(e) : null
  })
  const m = masked(w0)
  return eps === null || m === null ? null : { ...m, candidates: mm.inputs[1], eps }
}

const f32 = (v: number): Node => make('Constant', [], { value: { dtype: 'float32', shape: [], data: new Float32Array([v]) } })

/** The token-dropping pass. Stats: `fusedToken`, and reasons. */
export const dropTokens: Pass = rulePass('dropTokens', [
  rule<Fused>({
    name: 'fusedToken',
    on: ['MatMul'],
    match: (n) => checked(pattern(n), ({ s, keep, candidates }) => {
      const [B, M] = s.shape
      if (s.shape.length !== 2 || keep.shape.length !== 2 || candidates.shape.length !== 3) return 'unexpected ranks'
      if (typeof keep.shape[1] !== 'number' || typeof M !== 'number') return 'kept or candidate count is not static'
      if (keep.shape[1] >= M) return 'nothing is dropped'
      return keep.shape[0] === B && candidates.shape[0] === B && candidates.shape[1] === M ? null : 'scores, keep and candidates disagree'
    }),
    rewrite: ({ s, keep, candidates, eps }) => {
      const [K, M] = [keep.shape[1] as number, s.shape[1] as number]
      const order = make('TopK', [s], { k: M, axis: 1, largest: true, output: 1 }) // [B, M], kept ones first
      const dropped = make('Slice', [order], { starts: [K], ends: [M], axes: [1], steps: [1] }) // [B, M - K]
      const rows = make('GatherND', [candidates, make('Unsqueeze', [dropped], { axes: [2] })], { batchDims: 1 }) // [B, M - K, D]
      const sd = make('GatherElements', [s, dropped], { axis: 1 }) // [B, M - K]
      const w = make('Div', [sd, make('Max', [make('ReduceSum', [sd], { axes: [1], keepdims: true }), f32(eps)], {})], {})
      return make('MatMul', [make('Unsqueeze', [w], { axes: [1] }), rows], {}) // [B, 1, D]
    }
  })
])
