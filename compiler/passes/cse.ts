/**
 * Common-subexpression elimination. Interning already makes structurally equal nodes
 * one object; this pass finds the equalities interning cannot see: it orders the inputs
 * of commutative binary ops by structural key (not by id, which depends on build order), so `Add(a, b)` and `Add(b, a)` become one node, and
 * merges Constants whose dtype, shape and bytes are equal but that are distinct nodes
 * (possible when two constants' interning hashes collide).
 * @since 0.1.0
 */
import type { Graph } from '../ir/graph.js'
import { nodesOf, topo } from '../ir/graph.js'
import type { Node } from '../ir/node.js'
import { make } from '../ir/node.js'
import type { OpKind } from '../ir/ops.js'
import { commutative } from '../ir/ops.js'
import { structuralKey } from '../ir/structural.js'
import { bytesOf, contentKey } from '../ir/tensor.js'
import type { Pass, PassResult } from './pass.js'
import type { AnyRule } from './rewrite.js'
import { runRules, simpleRule } from './rewrite.js'

// -------------------------------------------------------------------------------------
// constants
// -------------------------------------------------------------------------------------

const sameBytes = (a: Uint8Array, b: Uint8Array): boolean => {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}

/** Maps every reached Constant to the first one in topological order with equal bytes. */
const canonicalConstants = (g: Graph): ReadonlyMap<Node, Node> => {
  const buckets = new Map<string, Node<'Constant'>[]>()
  const canon = new Map<Node, Node>()
  for (const c of nodesOf(g, 'Constant')) {
    const key = contentKey(c.attrs.value)
    const bucket = buckets.get(key) ?? []
    buckets.set(key, bucket)
    const same = bucket.find((d) => sameBytes(bytesOf(d.attrs.value), bytesOf(c.attrs.value)))
    if (same === undefined) bucket.push(c)
    canon.set(c, same ?? c)
  }
  return canon
}

// -------------------------------------------------------------------------------------
// the pass
// -------------------------------------------------------------------------------------

/** The CSE rules over a graph's canonical constants: `constants`, then `swapped`. */
const cseRules = (canon: ReadonlyMap<Node, Node>): readonly AnyRule[] => [
  simpleRule('constants', ['Constant'], (n) => {
    const c = canon.get(n) ?? n
    return c === n ? null : c
  }),
  simpleRule('swapped', undefined, (n) =>
    commutative.has(n.op) && n.inputs.length === 2 && structuralKey(n.inputs[0]) > structuralKey(n.inputs[1]) ? make<OpKind>(n.op, [n.inputs[1], n.inputs[0]], n.attrs) : null
  )
]

/**
 * Runs CSE. Stats: `swapped` (commutative ops reordered), `constants` (duplicate
 * Constant nodes replaced), `merged` (reached nodes before minus after).
 */
export const runCse = (g: Graph): PassResult => {
  const before = topo(g).length
  const r = runRules(g, cseRules(canonicalConstants(g)))
  const merged = before - topo(r.graph).length
  return merged > 0 ? { ...r, stats: { ...r.stats, fired: { ...r.stats.fired, merged } } } : r
}

/** Common-subexpression elimination as a pipeline pass. */
export const cse: Pass = { name: 'cse', run: runCse }
