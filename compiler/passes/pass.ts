/**
 * The pass contract. A pass is a pure function from a graph to a graph that says whether
 * it changed anything and what it did: per rule, how many times it fired and how many
 * candidates each reason turned down. Rule-based passes are built on the one rewrite
 * engine, `rewrite.ts`.
 * @since 0.1.0
 */
import type { Graph } from '../ir/graph.js'

// -------------------------------------------------------------------------------------
// model
// -------------------------------------------------------------------------------------

/** What a pass did: firings per rule (or named count), misses per rule and reason. */
export interface PassStats {
  readonly fired: Readonly<Record<string, number>>
  readonly missed: Readonly<Record<string, Readonly<Record<string, number>>>>
}

/** What a pass returns: the new graph, whether it differs, and its stats. */
export interface PassResult {
  readonly graph: Graph
  readonly changed: boolean
  readonly stats?: PassStats
}

/** A named graph-to-graph transform (`runPipeline` verifies its output). */
export type Pass = {
  readonly name: string
  readonly run: (g: Graph) => PassResult
}

// -------------------------------------------------------------------------------------
// stats
// -------------------------------------------------------------------------------------

/** Nothing fired, nothing missed. */
export const noStats: PassStats = { fired: {}, missed: {} }

const sum = (a: Readonly<Record<string, number>>, b: Readonly<Record<string, number>>): Record<string, number> => {
  const out = { ...a }
  for (const [k, v] of Object.entries(b)) out[k] = (out[k] ?? 0) + v
  return out
}

/** Two stats added rule by rule (and reason by reason). */
export const addStats = (a: PassStats, b: PassStats): PassStats => {
  const missed: Record<string, Record<string, number>> = { ...a.missed }
  for (const [r, reasons] of Object.entries(b.missed)) missed[r] = sum(missed[r] ?? {}, reasons)
  return { fired: sum(a.fired, b.fired), missed }
}
