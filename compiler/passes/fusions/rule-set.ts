/**
 * Fusion rule sets: each rule is a pattern / check / rewrite triple. `pattern` says
 * whether a node is a candidate and binds its parts; `check` says why a candidate may
 * not be fused (or null); `rewrite` builds the fused node. A rule set runs as one pass
 * that reports, per rule, how often it fired and how often each reason stopped it.
 * @since 0.1.0
 */
import type { Graph } from '../../ir/graph.js'
import { topo } from '../../ir/graph.js'
import type { Node } from '../../ir/node.js'
import { make, sameType, showType } from '../../ir/node.js'
import type { Pass, PassResult } from '../pass.js'
import { counter } from '../pass.js'

// -------------------------------------------------------------------------------------
// model
// -------------------------------------------------------------------------------------

/** What a rule may ask about the graph the pass started from. */
export interface FusionContext {
  /** The consumers of an original node (graph outputs are not nodes and are not listed). */
  readonly users: (original: Node) => readonly Node[]
  /** How many times a node is used, graph outputs included. */
  readonly uses: (original: Node) => number
  /**
   * An original node as rebuilt over the rewritten graph: its rewrite when it was already
   * visited, else itself rebuilt over rebuilt inputs with no rule applied (for nodes a
   * pattern finds through consumers rather than inputs).
   */
  readonly rebuilt: (original: Node) => Node
}

/** A fusion rule over the parts `M` its pattern binds. */
export interface FusionRule<M> {
  readonly name: string
  /**
   * The parts of a candidate, or null when the node is not one. `node` is rebuilt over
   * rewritten inputs; `original` is the same node in the pass's input graph (for `ctx`).
   */
  readonly pattern: (node: Node, original: Node, ctx: FusionContext) => M | null
  /** Null when the candidate may be fused, else why it is not. */
  readonly check: (m: M, ctx: FusionContext) => string | null
  /** The replacement: same dtype and shape as the candidate. */
  readonly rewrite: (m: M) => Node
}

/** A rule with its parts' type hidden, as a rule set holds it. */
export interface AnyRule {
  readonly name: string
  readonly apply: (node: Node, original: Node, ctx: FusionContext) => { readonly fused: Node } | { readonly missed: string } | null
}

/** Hides a rule's parts type. */
export const rule = <M>(r: FusionRule<M>): AnyRule => ({
  name: r.name,
  apply: (node, original, ctx) => {
    const m = r.pattern(node, original, ctx)
    if (m === null) return null
    const why = r.check(m, ctx)
    return why === null ? { fused: r.rewrite(m) } : { missed: why }
  }
})

// -------------------------------------------------------------------------------------
// running
// -------------------------------------------------------------------------------------

/** Consumers and use counts of every node of a graph; `memo` maps visited nodes to their rewrites. */
export const fusionContext = (g: Graph, memo: Map<Node, Node> = new Map()): FusionContext => {
  const users = new Map<Node, Node[]>()
  for (const n of topo(g)) for (const m of new Set(n.inputs)) users.set(m, [...(users.get(m) ?? []), n])
  const outputs = new Map<Node, number>()
  for (const o of g.outputs) outputs.set(o.node, (outputs.get(o.node) ?? 0) + 1)
  const rebuilt = (n: Node): Node => {
    const known = memo.get(n)
    if (known !== undefined) return known
    const inputs = n.inputs.map(rebuilt)
    return inputs.every((m, i) => m === n.inputs[i]) ? n : make(n.op, inputs, n.attrs)
  }
  return {
    rebuilt,
    users: (n) => users.get(n) ?? [],
    uses: (n) => (outputs.get(n) ?? 0) + (users.get(n) ?? []).reduce((s, u) => s + u.inputs.filter((i) => i === n).length, 0)
  }
}

/**
 * Runs a rule set once over a graph, bottom-up: each node is rebuilt over its rewritten
 * inputs, then the first rule that fires replaces it. Stats: the rule's name per firing,
 * and `rule: reason` per candidate its check turned down.
 */
export const runRuleSet = (g: Graph, rules: readonly AnyRule[]): PassResult => {
  const memo = new Map<Node, Node>()
  const ctx = fusionContext(g, memo)
  const { stats, bump } = counter()
  for (const n of topo(g)) {
    const inputs = n.inputs.map((m) => memo.get(m) as Node)
    let cur = inputs.every((m, i) => m === n.inputs[i]) ? n : make(n.op, inputs, n.attrs)
    for (const r of rules) {
      const res = r.apply(cur, n, ctx)
      if (res === null) continue
      if ('missed' in res) {
        bump(`${r.name}: ${res.missed}`)
        continue
      }
      if (!sameType(res.fused, n)) throw new Error(`fusion ${r.name}: ${n.op}#${n.id} of type ${showType(n)} was replaced by ${showType(res.fused)}`)
      bump(r.name)
      cur = res.fused
      break
    }
    memo.set(n, cur)
  }
  const outputs = g.outputs.map((o) => ({ name: o.name, node: memo.get(o.node) as Node }))
  const changed = outputs.some((o, i) => o.node !== g.outputs[i].node)
  return { graph: changed ? { name: g.name, inputs: g.inputs, outputs } : g, changed, stats }
}

/**
 * A rule set as a pipeline pass. Candidates turned down are reported only by runs that
 * changed nothing (the pipeline's last rounds), so reasons describe the final graph
 * (a count is summed over those rounds).
 */
export const fusionPass = (name: string, rules: readonly AnyRule[]): Pass => ({
  name,
  run: (g) => {
    const r = runRuleSet(g, rules)
    if (!r.changed) return r
    return { ...r, stats: Object.fromEntries(Object.entries(r.stats ?? {}).filter(([k]) => !k.includes(': '))) }
  }
})
