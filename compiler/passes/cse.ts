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
import { counter, rewrite } from './pass.js'

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

/**
 * Runs CSE. Stats: `swapped` (commutative ops reordered), `constants` (duplicate
 * Constant nodes replaced), `merged` (reached nodes before minus after).
 */
export const runCse = (g: Graph): PassResult => {
  const before = topo(g).length
  const canon = canonicalConstants(g)
  const { stats, bump } = counter()
  const r = rewrite(g, (n, inputs) => {
    if (n.op === 'Constant') {
      const c = canon.get(n) ?? n
      if (c === n) return null
      bump('constants')
      return c
    }
    if (commutative.has(n.op) && inputs.length === 2 && structuralKey(inputs[0]) > structuralKey(inputs[1])) {
      bump('swapped')
      return make<OpKind>(n.op, [inputs[1], inputs[0]], n.attrs)
    }
    return null
  })
  const merged = before - topo(r.graph).length
  if (merged > 0) stats.merged = merged
  return { graph: r.graph, changed: r.changed, stats }
}

/** Common-subexpression elimination as a pipeline pass. */
export const cse: Pass = { name: 'cse', run: runCse }
