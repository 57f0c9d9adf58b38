/**
 * The pass manager: runs a list of passes over and over until none changes the graph,
 * verifying the graph after every pass. A pass whose output does not verify is a
 * compiler bug, so that throws an `Error` naming the pass.
 * @since 0.1.0
 */
import * as E from 'fp-ts/lib/Either.js'
import type { Graph } from '../ir/graph.js'
import { verify } from '../ir/verify.js'
import { cse } from './cse.js'
import { eliminateDeadCode } from './eliminate-dead-code.js'
import { foldConstants } from './fold-constants.js'
import type { Pass, PassStats } from './pass.js'
import { addStats, noStats } from './pass.js'

// -------------------------------------------------------------------------------------
// model
// -------------------------------------------------------------------------------------

/** Options of `runPipeline`. */
export interface PipelineOptions {
  /** Most rounds over the whole list (default 10). */
  readonly maxIterations?: number
}

/** What `runPipeline` returns. */
export interface PipelineResult {
  readonly graph: Graph
  /** Rounds run, the last one included (a round changing nothing ends the run). */
  readonly iterations: number
  /** Whether the last round changed nothing (false: stopped at `maxIterations`). */
  readonly converged: boolean
  /** Per pass name, its stats summed over all rounds (`noStats` if none). */
  readonly stats: Readonly<Record<string, PassStats>>
}

// -------------------------------------------------------------------------------------
// running
// -------------------------------------------------------------------------------------

const check = (g: Graph, after: string): void => {
  const r = verify(g)
  if (E.isLeft(r)) throw new Error(`${after} produced a graph that does not verify: ${r.left.message}`)
}

/**
 * Runs `passes` in order, round after round, until a round changes nothing or
 * `maxIterations` rounds have run. Verifies the input graph first and the graph after
 * every pass; throws an `Error` when one does not verify.
 */
export const runPipeline = (g: Graph, passes: readonly Pass[], opts: PipelineOptions = {}): PipelineResult => {
  const maxIterations = opts.maxIterations ?? 10
  const stats: Record<string, PassStats> = {}
  for (const p of passes) stats[p.name] = noStats
  check(g, 'the input of the pipeline')
  let graph = g
  for (let iterations = 1; iterations <= maxIterations; iterations++) {
    let changed = false
    for (const p of passes) {
      const r = p.run(graph)
      check(r.graph, `pass "${p.name}"`)
      stats[p.name] = addStats(stats[p.name], r.stats ?? noStats)
      graph = r.graph
      changed ||= r.changed
    }
    if (!changed) return { graph, iterations, converged: true, stats }
  }
  return { graph, iterations: maxIterations, converged: false, stats }
}

/** Fold constants and simplify, merge common subexpressions, drop unused inputs. */
export const defaultPasses: readonly Pass[] = [foldConstants, cse, eliminateDeadCode]
