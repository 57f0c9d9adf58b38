/**
 * Transposed weights, folded at compile time: `Transpose(W)` of a parameter whose value
 * is known becomes a parameter holding the transposed values (`NAME.T` for a matrix,
 * `NAME.transpose.PERM` otherwise). onnxruntime would otherwise fold each of them when a
 * session opens, with both copies in memory meanwhile: on the base vision encoder that
 * made opening a session about 3x slower. The transposed values are not made here:
 * `cmga compile` writes each straight into the shared weights file.
 * @since 0.1.0
 */
import type { Graph } from '../ir/graph.js'
import type { Node } from '../ir/node.js'
import { make } from '../ir/node.js'
import type { HostTensor } from '../ir/tensor.js'
import { zeros } from '../ir/tensor.js'
import { forEachStrided } from '../ir/strided.js'
import { as } from '../passes/fusions/match.js'
import type { AnyRule } from '../passes/fusions/rule-set.js'
import { rule, runRuleSet } from '../passes/fusions/rule-set.js'

/** A weight the folded graph uses that is another one transposed. */
export interface Derived {
  readonly from: string
  readonly perm: readonly number[]
}

/** A folded graph, the weights it derives (values are made when written), and rule stats. */
export interface FoldedTransposes {
  readonly graph: Graph
  readonly derived: ReadonlyMap<string, Derived>
  readonly stats: Record<string, number>
}

/** `t` with its axes permuted (a row-major copy, into `out` when given: a tensor of the permuted shape). */
export const transposeTensor = (t: HostTensor, perm: readonly number[], out: HostTensor = zeros(t.dtype, perm.map((p) => t.shape[p]))): HostTensor => {
  const inStrides = t.shape.map((_, i) => t.shape.slice(i + 1).reduce((a, b) => a * b, 1))
  const src = t.data as unknown as ArrayLike<number | bigint>
  const dst = out.data as unknown as { [i: number]: number | bigint }
  forEachStrided(perm.map((p) => t.shape[p]), perm.map((p) => inStrides[p]), 0, (k, pos) => (dst[k] = src[pos]))
  return out
}

/** Folds every `Transpose` of a parameter that has a value in `weights`. */
export const foldParamTransposes = (g: Graph, weights: ReadonlyMap<string, HostTensor>): FoldedTransposes => {
  const derived = new Map<string, Derived>()
  const folded: AnyRule = rule<{ p: Node<'Param'> | null; perm: readonly number[] }>({
    name: 'foldTranspose',
    pattern: (n) => {
      const t = as(n, 'Transpose')
      return t === null ? null : { p: as(t.inputs[0], 'Param'), perm: t.attrs.perm }
    },
    check: ({ p }) => (p === null ? 'not a parameter' : weights.has(p.attrs.name) ? null : 'the parameter has no value'),
    rewrite: ({ p, perm }) => {
      const param = p as Node<'Param'>
      const name = param.attrs.name
      const to = perm.length === 2 && perm[0] === 1 && perm[1] === 0 ? `${name}.T` : `${name}.transpose.${perm.join('')}`
      derived.set(to, { from: name, perm })
      return make('Param', [], { name: to, dtype: param.dtype, shape: perm.map((i) => param.shape[i]) })
    }
  })
  const r = runRuleSet(g, [folded])
  return { graph: r.graph, derived, stats: r.stats ?? {} }
}
