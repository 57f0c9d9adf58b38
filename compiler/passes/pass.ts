/**
 * The pass contract and the bottom-up rewrite every pass is built on. A pass is a pure
 * function from a graph to a graph that says whether it changed anything and, when it
 * has rules, how many times each fired.
 * @since 0.1.0
 */
import type { Graph } from '../ir/graph.js'
import { topo } from '../ir/graph.js'
import type { Node } from '../ir/node.js'
import { make, sameType, showType } from '../ir/node.js'

// -------------------------------------------------------------------------------------
// model
// -------------------------------------------------------------------------------------

/** What a pass returns: the new graph, whether it differs, and per-rule counts. */
export interface PassResult {
  readonly graph: Graph
  readonly changed: boolean
  readonly stats?: Record<string, number>
}

/** A named graph-to-graph transform (`runPipeline` verifies its output). */
export type Pass = {
  readonly name: string
  readonly run: (g: Graph) => PassResult
}

/**
 * A local rewrite rule. `node` has already been rebuilt over its rewritten inputs, and
 * `inputs` are those inputs (`node.inputs`). Returns the replacement, which must have
 * the same dtype and shape, or `null` to keep the node.
 */
export type Rule = (node: Node, inputs: readonly Node[]) => Node | null

// -------------------------------------------------------------------------------------
// rewriting
// -------------------------------------------------------------------------------------

/** How many times `rewrite` re-applies a rule to its own result at one node. */
const maxStepsPerNode = 8

/**
 * Rewrites a graph bottom-up. In topological order, each node is rebuilt over its
 * rewritten inputs (with `make`, so unchanged nodes stay the same object) and then `rule`
 * is applied; when the rule returns a new node the rule is applied to that too (a few
 * times at most), so chains like Transpose(Transpose(x)) -> Transpose(x) -> x resolve in
 * one call. Each node is visited once (memoized) and the walk is iterative. Declared
 * inputs are kept; outputs point at the rewritten nodes. `changed` is whether any
 * output node differs. A rule that changes a node's type is a compiler bug and throws.
 */
export const rewrite = (g: Graph, rule: Rule): { graph: Graph; changed: boolean } => {
  const memo = new Map<Node, Node>()
  for (const n of topo(g)) {
    const inputs = n.inputs.map((m) => memo.get(m) as Node)
    let cur = inputs.every((m, i) => m === n.inputs[i]) ? n : make(n.op, inputs, n.attrs)
    for (let step = 0; step < maxStepsPerNode; step++) {
      const next = rule(cur, cur.inputs)
      if (next === null || next === cur) break
      if (!sameType(next, n)) {
        throw new Error(`rewrite: ${n.op}#${n.id} of type ${showType(n)} was replaced by ${next.op}#${next.id} of type ${showType(next)}`)
      }
      cur = next
    }
    memo.set(n, cur)
  }
  const outputs = g.outputs.map((o) => ({ name: o.name, node: memo.get(o.node) as Node }))
  const changed = outputs.some((o, i) => o.node !== g.outputs[i].node)
  return { graph: changed ? { name: g.name, inputs: g.inputs, outputs } : g, changed }
}

/** A counter for per-rule stats: `bump(name)` adds one, `stats` is the record. */
export const counter = (): { readonly stats: Record<string, number>; readonly bump: (rule: string) => void } => {
  const stats: Record<string, number> = {}
  return { stats, bump: (rule) => void (stats[rule] = (stats[rule] ?? 0) + 1) }
}
