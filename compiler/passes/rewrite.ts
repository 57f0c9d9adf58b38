/**
 * The rewrite engine every pass runs on. A rule is `match(node, ctx)` -> the parts it
 * binds (`bound`), a reason the candidate is turned down (`miss`), or nothing (`null`),
 * and `rewrite(parts, ctx)` -> the replacement. `runRules` walks a graph bottom-up and
 * replaces each node by the first rule that fires, re-applying the rules to the result
 * (a few times at most), and counts firings and misses per rule.
 * @since 0.1.0
 */
import type { Graph } from '../ir/graph.js'
import { topo } from '../ir/graph.js'
import type { Node } from '../ir/node.js'
import { make, sameType, showType } from '../ir/node.js'
import type { OpKind } from '../ir/ops.js'
import type { Pass, PassStats } from './pass.js'

// -------------------------------------------------------------------------------------
// model
// -------------------------------------------------------------------------------------

/** What a rule's `match` says about a node. */
export type Matched<B> = { readonly bound: B } | { readonly missed: string } | null

/** The node is a candidate with parts `b`. */
export const bound = <B>(b: B): Matched<B> => ({ bound: b })

/** The node is a candidate the rule turns down, and why. */
export const miss = (reason: string): Matched<never> => ({ missed: reason })

/** `parts` (or nothing when null), turned down when `why` gives a reason. */
export const checked = <B>(parts: B | null, why: (b: B) => string | null): Matched<B> => {
  if (parts === null) return null
  const reason = why(parts)
  return reason === null ? bound(parts) : miss(reason)
}

/** What a rule may ask about the node and the graph the run started from. */
export interface RuleContext {
  /** The node in the input graph. */
  readonly original: Node
  /** Its inputs as rewritten. */
  readonly inputs: readonly Node[]
  /** The consumers of an original node (graph outputs are not nodes and are not listed). */
  readonly users: (original: Node) => readonly Node[]
  /** How many times an original node is used, graph outputs included. */
  readonly uses: (original: Node) => number
  /**
   * An original node over the rewritten graph: its rewrite when already visited, else
   * itself rebuilt over rebuilt inputs with no rule applied.
   */
  readonly rebuilt: (original: Node) => Node
}

/** A rule over the parts `B` its match binds. */
export interface Rule<B> {
  readonly name: string
  /** The op kinds it can match (all when absent): the engine tries it on those only. */
  readonly on?: readonly OpKind[]
  readonly match: (node: Node, ctx: RuleContext) => Matched<B>
  /** The replacement: the node's dtype and shape unless the run retypes. */
  readonly rewrite: (b: B, ctx: RuleContext) => Node
}

/** A rule with its parts' type hidden, as a rule list holds it. */
export interface AnyRule {
  readonly name: string
  readonly on?: readonly OpKind[]
  readonly apply: (node: Node, ctx: RuleContext) => { readonly node: Node } | { readonly missed: string } | null
}

/** Hides a rule's parts type. */
export const rule = <B>(r: Rule<B>): AnyRule => ({
  name: r.name,
  on: r.on,
  apply: (node, ctx) => {
    const m = r.match(node, ctx)
    if (m === null || 'missed' in m) return m
    return { node: r.rewrite(m.bound, ctx) }
  }
})

/**
 * A rule with no parts and no misses: `f(node, ctx)` is the replacement, or null. On the
 * ops `on` (all when undefined).
 */
export const simpleRule = (name: string, on: readonly OpKind[] | undefined, f: (n: Node, ctx: RuleContext) => Node | null): AnyRule =>
  rule<Node>({
    name,
    on,
    match: (n, ctx) => {
      const r = f(n, ctx)
      return r === null ? null : bound(r)
    },
    rewrite: (r) => r
  })

/** Options of `runRules`. */
export interface RunOptions {
  /** How many times the rules are re-applied to one node's replacement (default 8). */
  readonly maxSteps?: number
  /**
   * Replacements may change types (float64 promotion): rules see the original node (its
   * rewritten inputs in `ctx.inputs`), apply once per node, and a node no rule replaces
   * is rebuilt over its rewritten inputs.
   */
  readonly retype?: boolean
}

/** What `runRules` returns. */
export interface Rewritten {
  readonly graph: Graph
  /** Whether any output node differs. */
  readonly changed: boolean
  readonly stats: PassStats
}

// -------------------------------------------------------------------------------------
// counting
// -------------------------------------------------------------------------------------

/** Mutable counts for one run: `fire(rule)`, `miss(rule, reason)`, `stats()`. */
export const tally = (): { fire: (rule: string, n?: number) => void; miss: (rule: string, reason: string) => void; stats: () => PassStats } => {
  const fired: Record<string, number> = {}
  const missed: Record<string, Record<string, number>> = {}
  return {
    fire: (r, n = 1) => void (fired[r] = (fired[r] ?? 0) + n),
    miss: (r, why) => void ((missed[r] ??= {})[why] = (missed[r][why] ?? 0) + 1),
    stats: () => ({ fired, missed })
  }
}

// -------------------------------------------------------------------------------------
// running
// -------------------------------------------------------------------------------------

/** Consumers and use counts of a graph's nodes, made on first use. */
const graphContext = (g: Graph, order: readonly Node[], memo: ReadonlyMap<Node, Node>): Omit<RuleContext, 'original' | 'inputs'> => {
  let users: Map<Node, Node[]> | undefined
  let uses: Map<Node, number> | undefined
  const usersOf = (): Map<Node, Node[]> => {
    if (users !== undefined) return users
    users = new Map()
    uses = new Map()
    for (const o of g.outputs) uses.set(o.node, (uses.get(o.node) ?? 0) + 1)
    for (const n of order) {
      for (const m of n.inputs) uses.set(m, (uses.get(m) ?? 0) + 1)
      for (const m of new Set(n.inputs)) users.set(m, [...(users.get(m) ?? []), n])
    }
    return users
  }
  const rebuilt = (n: Node): Node => {
    const known = memo.get(n)
    if (known !== undefined) return known
    const inputs = n.inputs.map(rebuilt)
    return inputs.every((m, i) => m === n.inputs[i]) ? n : make(n.op, inputs, n.attrs)
  }
  return {
    rebuilt,
    users: (n) => usersOf().get(n) ?? [],
    uses: (n) => (usersOf(), (uses as Map<Node, number>).get(n) ?? 0)
  }
}

/** The first rule that fires on `node`, counting misses on the way. */
const firstFiring = (rules: readonly AnyRule[], node: Node, ctx: RuleContext, t: ReturnType<typeof tally>): { rule: string; node: Node } | null => {
  for (const r of rules) {
    if (r.on !== undefined && !r.on.includes(node.op)) continue
    const res = r.apply(node, ctx)
    if (res === null) continue
    if ('missed' in res) t.miss(r.name, res.missed)
    else if (res.node !== node) return { rule: r.name, node: res.node }
  }
  return null
}

/**
 * Rewrites a graph bottom-up. In topological order each node is rebuilt over its
 * rewritten inputs (with `make`, so unchanged nodes stay the same object); then the first
 * rule that fires replaces it, and the rules are applied to the replacement too (so
 * Transpose(Transpose(x)) -> Transpose(x) -> x resolves in one run). Each node is visited
 * once and the walk is iterative. Declared inputs are kept; outputs point at the
 * rewritten nodes. A replacement of another type is a compiler bug and throws (unless
 * `retype`).
 */
export const runRules = (g: Graph, rules: readonly AnyRule[], o: RunOptions = {}): Rewritten => {
  const order = topo(g)
  const memo = new Map<Node, Node>()
  const shared = graphContext(g, order, memo)
  const t = tally()
  const steps = o.retype === true ? 1 : (o.maxSteps ?? 8)
  for (const n of order) {
    const inputs = n.inputs.map((m) => memo.get(m) as Node)
    const same = inputs.every((m, i) => m === n.inputs[i])
    const ctx: RuleContext = { ...shared, original: n, inputs }
    let cur = same || o.retype === true ? n : make(n.op, inputs, n.attrs)
    let replaced = false
    for (let step = 0; step < steps; step++) {
      const next = firstFiring(rules, cur, ctx, t)
      if (next === null) break
      if (o.retype !== true && !sameType(next.node, n)) {
        throw new Error(`rule ${next.rule}: ${n.op}#${n.id} of type ${showType(n)} was replaced by ${next.node.op}#${next.node.id} of type ${showType(next.node)}`)
      }
      t.fire(next.rule)
      cur = next.node
      replaced = true
    }
    memo.set(n, o.retype === true && !replaced && !same ? make(n.op, inputs, n.attrs) : cur)
  }
  const outputs = g.outputs.map((out) => ({ name: out.name, node: memo.get(out.node) as Node }))
  const changed = outputs.some((out, i) => out.node !== g.outputs[i].node)
  return { graph: changed ? { name: g.name, inputs: g.inputs, outputs } : g, changed, stats: t.stats() }
}

/**
 * A rule list as a pipeline pass. Misses are reported only by runs that changed nothing
 * (the pipeline's last rounds), so reasons describe the final graph.
 */
export const rulePass = (name: string, rules: readonly AnyRule[], o: RunOptions = {}): Pass => ({
  name,
  run: (g) => {
    const r = runRules(g, rules, o)
    return r.changed ? { ...r, stats: { fired: r.stats.fired, missed: {} } } : r
  }
})
