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
import { as, samePerm } from '../passes/match.js'
import type { PassStats } from '../passes/pass.js'
import type { AnyRule } from '../passes/rewrite.js'
import { bound, miss, rule, runRules } from '../passes/rewrite.js'

/** A weight the folded graph uses that is another one transposed. */
export interface Derived {
  readonly from: string
  readonly perm: readonly number[]
}

/** A folded graph, the weights it derives (values are made when written), and rule stats. */
export interface FoldedTransposes {
  readonly graph: Graph
  readonly derived: ReadonlyMap<string, Derived>
  readonly stats: PassStats
}


/** Folds every `Transpose` of a parameter that has a value in `weights`. */
export const foldParamTransposes = (g: Graph, weights: ReadonlyMap<string, HostTensor>): FoldedTransposes => {
  const derived = new Map<string, Derived>()
  const folded: AnyRule = rule<{ p: Node<'Param'>; perm: readonly number[] }>({
    name: 'foldTranspose',
    on: ['Transpose'],
    match: (n) => {
      const p = as(n.inputs[0], 'Param')
      if (p === null) return miss('not a parameter')
      return weights.has(p.attrs.name) ? bound({ p, perm: (n as Node<'Transpose'>).attrs.perm }) : miss('the parameter has no value')
    },
    rewrite: ({ p, perm }) => {
      const name = p.attrs.name
      const to = samePerm(perm, [1, 0]) ? `${name}.T` : `${name}.transpose.${perm.join('')}`
      derived.set(to, { from: name, perm })
      return make('Param', [], { name: to, dtype: p.dtype, shape: perm.map((i) => p.shape[i]) })
    }
  })
  const r = runRules(g, [folded])
  return { graph: r.graph, derived, stats: r.stats }
}

export { transposeTensor } from '../ir/strided.js'
