/**
 * A graph: declared inputs and named outputs over interned nodes. Everything a graph
 * computes is what its outputs reach; `topo` lists it in a deterministic order.
 * @since 0.1.0
 */
import type { Node } from './node.js'
import type { OpKind } from './ops.js'

// -------------------------------------------------------------------------------------
// model
// -------------------------------------------------------------------------------------

/** @since 0.1.0 */
export interface Output {
  readonly name: string
  readonly node: Node
}

/** @since 0.1.0 */
export interface Graph {
  readonly name: string
  readonly inputs: readonly Node<'Input'>[]
  readonly outputs: readonly Output[]
}

// -------------------------------------------------------------------------------------
// traversal
// -------------------------------------------------------------------------------------

/**
 * Every node the outputs reach, inputs before users: depth-first post-order from the
 * outputs in order, each node's inputs in order. Iterative, so deep graphs are fine.
 */
export const topoFrom = (roots: readonly Node[]): readonly Node[] => {
  const seen = new Set<Node>()
  const order: Node[] = []
  for (const root of roots) {
    if (seen.has(root)) continue
    const stack: Array<[Node, number]> = [[root, 0]]
    seen.add(root)
    while (stack.length > 0) {
      const top = stack[stack.length - 1]
      const [n, i] = top
      if (i < n.inputs.length) {
        top[1] = i + 1
        const m = n.inputs[i]
        if (!seen.has(m)) {
          seen.add(m)
          stack.push([m, 0])
        }
      } else {
        stack.pop()
        order.push(n)
      }
    }
  }
  return order
}

/** @since 0.1.0 */
export const topo = (g: Graph): readonly Node[] => topoFrom(g.outputs.map((o) => o.node))

/** Reached nodes of one kind, in topological order. */
export const nodesOf = <K extends OpKind>(g: Graph, op: K): readonly Node<K>[] =>
  topo(g).filter((n): n is Node<K> => n.op === op)

/** The parameters a graph uses, in topological order. */
export const paramsOf = (g: Graph): readonly Node<'Param'>[] => nodesOf(g, 'Param')

/** @since 0.1.0 */
export const graph = (name: string, inputs: readonly Node<'Input'>[], outputs: readonly Output[] | Readonly<Record<string, Node>>): Graph => ({
  name,
  inputs,
  outputs: Array.isArray(outputs) ? outputs : Object.entries(outputs).map(([k, node]) => ({ name: k, node }))
})
