/**
 * Structural keys: a hash of what a node computes (op, attributes, constant bytes,
 * leaf names, and its inputs' keys, in sorted order for commutative ops). Unlike ids,
 * the key does not depend on what else was built earlier in the process, so passes
 * that need an order (CSE's canonical operand order) stay deterministic.
 * @since 0.1.0
 */
import { createHash } from 'node:crypto'
import { topoFrom } from './graph.js'
import type { Node } from './node.js'
import type { OpAttrs } from './ops.js'
import { commutative } from './ops.js'
import { bytesOf } from './tensor.js'

const memo = new WeakMap<Node, string>()

const own = (n: Node): string => {
  if (n.op !== 'Constant') return JSON.stringify(n.attrs)
  const v = (n.attrs as OpAttrs['Constant']).value
  return `${v.dtype}[${v.shape.join(',')}]${createHash('sha1').update(bytesOf(v)).digest('hex')}`
}

/** The structural key of a node (memoized; computed iteratively, so deep graphs are fine). */
export const structuralKey = (root: Node): string => {
  const known = memo.get(root)
  if (known !== undefined) return known
  for (const n of topoFrom([root])) {
    if (memo.has(n)) continue
    const ins = n.inputs.map((m) => memo.get(m) as string)
    if (commutative.has(n.op)) ins.sort()
    memo.set(n, createHash('sha1').update(`${n.op}|${own(n)}|${ins.join(',')}|${n.dtype}[${n.shape.join(',')}]`).digest('hex'))
  }
  return memo.get(root) as string
}
