/**
 * A text form of a graph for golden tests and debugging. Nodes are numbered by
 * topological position, so the text does not depend on what else was built before.
 * @since 0.1.0
 */
import type { Graph } from './graph.js'
import { topo } from './graph.js'
import type { Node } from './node.js'
import { showType } from './node.js'

const showAttrs = (n: Node): string => {
  if (n.op === 'Input' || n.op === 'Param') return ` "${(n.attrs as { name: string }).name}"`
  if (n.op === 'Constant') {
    const v = (n as Node<'Constant'>).attrs.value
    const body = v.data.length <= 8 ? Array.from(v.data as ArrayLike<number | bigint>, String).join(', ') : `${v.data.length} values`
    return ` <${body}>`
  }
  const entries = Object.entries(n.attrs)
  return entries.length === 0 ? '' : ` {${entries.map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(', ')}}`
}

/** Prints a graph, one node per line. */
export const printGraph = (g: Graph): string => {
  const order = topo(g)
  const num = new Map<Node, number>(order.map((n, i) => [n, i]))
  const ref = (n: Node): string => `%${num.get(n)}`
  const lines = order.map((n) => {
    const args = n.inputs.length === 0 ? '' : `(${n.inputs.map(ref).join(', ')})`
    return `  ${ref(n)} = ${n.op}${args}${showAttrs(n)} : ${showType(n)}`
  })
  const sig = g.inputs.map((i) => `${i.attrs.name}: ${showType(i)}`).join(', ')
  const outs = g.outputs.map((o) => `${o.name}: ${num.has(o.node) ? ref(o.node) : '?'}`).join(', ')
  return `graph ${g.name}(${sig}) {\n${lines.join('\n')}\n  return {${outs}}\n}\n`
}
