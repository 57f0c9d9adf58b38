/**
 * Splitting a graph at the last value that does not depend on some of its inputs.
 * Under `joint` guidance the vision blocks before the first compression layer do not
 * depend on the text: splitting there gives a per-image prefix (computed once per image)
 * and a per-pair suffix that takes the prefix's output as an input.
 * @since 0.1.0
 */
import * as E from 'fp-ts/lib/Either.js'
import type { CmgaError } from '../errors.js'
import { fail } from '../errors.js'
import type { Graph } from '../ir/graph.js'
import { topo, topoFrom } from '../ir/graph.js'
import type { Node } from '../ir/node.js'
import { make } from '../ir/node.js'
import { runRules, simpleRule } from './rewrite.js'

/** The two halves of a split graph. */
export interface Split {
  /** The early inputs -> one output, named `cutName`. */
  readonly prefix: Graph
  /** The cut value (an input named `cutName`) and the late inputs -> the original outputs. */
  readonly suffix: Graph
  /** The value the graph was cut at (a node of the original graph). */
  readonly cut: Node
}

/** Nodes reached from `sources` through consumers, never passing through `blocked`. */
const reachedFrom = (order: readonly Node[], sources: ReadonlySet<Node>, blocked?: Node): Set<Node> => {
  const reached = new Set<Node>()
  for (const n of order) if (n !== blocked && (sources.has(n) || n.inputs.some((m) => reached.has(m)))) reached.add(n)
  return reached
}

/** The nodes every one of `targets` reaches back to (each target included); undefined for no targets. */
const commonAncestors = (targets: readonly Node[]): Set<Node> | undefined => {
  let common: Set<Node> | undefined
  for (const t of targets) {
    const mine = topoFrom([t])
    common = new Set(common === undefined ? mine : mine.filter((n) => (common as Set<Node>).has(n)))
  }
  return common
}

/**
 * Splits `g` at the latest value that depends only on the inputs not named in `late`
 * and through which every such dependence of the late part passes (a dominator of the
 * early-to-late frontier). Fails when `late` names no input, or when no single value
 * carries everything the late part needs from the early inputs.
 */
export const splitPrefix = (g: Graph, late: readonly string[], cutName: string): E.Either<CmgaError, Split> => {
  const lateInputs = g.inputs.filter((i) => late.includes(i.attrs.name))
  const earlyInputs = g.inputs.filter((i) => !late.includes(i.attrs.name))
  if (lateInputs.length === 0 || earlyInputs.length === 0) return fail('shape', `split ${g.name}: late inputs [${late.join(', ')}] must name some but not all inputs`)
  const order = topo(g)
  const isLate = reachedFrom(order, new Set<Node>(lateInputs))
  const isEarly = reachedFrom(order, new Set<Node>(earlyInputs))
  const feedsLate = new Set(order.filter((u) => isLate.has(u)).flatMap((u) => u.inputs))
  const frontier = order.filter((n) => isEarly.has(n) && !isLate.has(n) && feedsLate.has(n))
  const early = (n: Node): boolean => isEarly.has(n) && !isLate.has(n) && n.op !== 'Input'
  // a cut must reach back from every frontier value (else that value bypasses it): only
  // those candidates are checked by blocking them
  const candidates = commonAncestors(frontier)
  const cut = [...order].reverse().find((c) => (candidates?.has(c) ?? true) && early(c) && c.dtype === 'float32' && frontier.every((f) => f === c || !reachedFrom(order, new Set<Node>(earlyInputs), c).has(f)))
  if (cut === undefined) return fail('shape', `split ${g.name}: no single value carries what the late part needs from ${earlyInputs.map((i) => i.attrs.name).join(', ')}`)
  if (g.outputs.some((o) => !isLate.has(o.node))) return fail('shape', `split ${g.name}: some outputs do not depend on [${late.join(', ')}]`)
  const input = make('Input', [], { name: cutName, dtype: cut.dtype, shape: cut.shape })
  const r = runRules(g, [simpleRule('cut', undefined, (_, ctx) => (ctx.original === cut ? input : null))])
  return E.right({
    prefix: { name: `${g.name}_prefix`, inputs: earlyInputs, outputs: [{ name: cutName, node: cut }] },
    suffix: { name: `${g.name}_suffix`, inputs: [input, ...lateInputs], outputs: r.graph.outputs },
    cut
  })
}
