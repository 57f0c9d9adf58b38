/**
 * Dead-code elimination. A graph is its outputs and what they reach, so unreachable
 * nodes (Params included) never exist in it. The only dead thing left is a declared
 * input that no output depends on: this pass removes such inputs from `inputs`, which
 * changes the model's signature (callers must stop feeding them). It removes nothing
 * else; it does not remove no-op nodes (that is `foldConstants`). It rewrites no node, so
 * it needs no rules.
 * @since 0.1.0
 */
import type { Graph } from '../ir/graph.js'
import { nodesOf } from '../ir/graph.js'
import type { Node } from '../ir/node.js'
import type { Pass, PassResult } from './pass.js'
import { noStats } from './pass.js'

/** Drops declared inputs that no output reaches. Stats: `inputs` (how many were dropped). */
export const runEliminateDeadCode = (g: Graph): PassResult => {
  const live = new Set<Node>(nodesOf(g, 'Input'))
  const inputs = g.inputs.filter((i) => live.has(i))
  const removed = g.inputs.length - inputs.length
  if (removed === 0) return { graph: g, changed: false, stats: noStats }
  return { graph: { ...g, inputs }, changed: true, stats: { fired: { inputs: removed }, missed: {} } }
}

/** Dead-code elimination as a pipeline pass. */
export const eliminateDeadCode: Pass = { name: 'eliminateDeadCode', run: runEliminateDeadCode }
