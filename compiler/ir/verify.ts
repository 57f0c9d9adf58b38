/**
 * The IR verifier: every node's type is what inference gives for its inputs, inputs
 * come before users, every `Input` reached is declared, and names are unique.
 * @since 0.1.0
 */
import * as E from 'fp-ts/lib/Either.js'
import type { CmgaError } from '../errors.js'
import { fail } from '../errors.js'
import type { Graph } from './graph.js'
import { topo } from './graph.js'
import { infer } from './infer.js'
import { sameShape, showType } from './node.js'
import type { Node } from './node.js'

/** Checks a graph; returns it unchanged when it is well formed. */
export const verify = (g: Graph): E.Either<CmgaError, Graph> => {
  const problems: string[] = []
  const order = topo(g)
  const position = new Map<Node, number>(order.map((n, i) => [n, i]))
  const declared = new Set<Node>(g.inputs)
  const names = new Map<string, string>()
  const claim = (name: string, what: string): void => {
    const prev = names.get(name)
    if (prev !== undefined && prev !== what) problems.push(`name "${name}" is used by ${prev} and ${what}`)
    names.set(name, what)
  }
  for (const i of g.inputs) {
    if (names.has(i.attrs.name)) problems.push(`input "${i.attrs.name}" is declared twice`)
    claim(i.attrs.name, 'an input')
  }
  for (const n of order) {
    for (const m of n.inputs) {
      if ((position.get(m) ?? Infinity) >= (position.get(n) ?? -1)) problems.push(`${n.op}#${n.id} uses a later node`)
    }
    const t = infer(n.op, n.inputs, n.attrs)
    if (typeof t === 'string') problems.push(`${n.op}#${n.id}: ${t}`)
    else if (t.dtype !== n.dtype || !sameShape(t.shape, n.shape)) problems.push(`${n.op}#${n.id} is typed ${showType(n)} but infers ${showType(t)}`)
    if (n.op === 'Input' && !declared.has(n as Node<'Input'>)) problems.push(`input "${(n as Node<'Input'>).attrs.name}" is used but not declared`)
    if (n.op === 'Param') claim((n as Node<'Param'>).attrs.name, `a parameter of type ${showType(n)}`)
  }
  const outNames = new Set<string>()
  for (const o of g.outputs) {
    if (outNames.has(o.name)) problems.push(`output "${o.name}" is declared twice`)
    outNames.add(o.name)
  }
  return problems.length === 0 ? E.right(g) : fail('verify', `graph ${g.name}: ${problems.join('; ')}`)
}
