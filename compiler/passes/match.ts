/**
 * Small matchers that rule patterns are written with.
 * @since 0.1.0
 */
import type { Node } from '../ir/node.js'
import type { OpKind } from '../ir/ops.js'
import { commutative } from '../ir/ops.js'
import { sizeOf } from '../ir/tensor.js'

/** The node as kind `K`, or null. */
export const as = <K extends OpKind>(n: Node | undefined, op: K): Node<K> | null => (n !== undefined && n.op === op ? (n as Node<K>) : null)

/** The value of a one-element float Constant, or null. */
export const scalarOf = (n: Node | undefined): number | null => {
  const c = as(n, 'Constant')
  if (c === null || sizeOf(c.attrs.value.shape) !== 1 || c.attrs.value.dtype === 'int64') return null
  return Number(c.attrs.value.data[0])
}

/** Whether `n` is a one-element Constant equal to `v` (within `tol` relative). */
export const isScalar = (n: Node | undefined, v: number, tol = 0): boolean => {
  const s = scalarOf(n)
  return s !== null && Math.abs(s - v) <= tol * Math.abs(v)
}

/**
 * `f(a, b)` of a binary node `op(a, b)`, or null. When `op` commutes (`opInfo`), `f(b, a)`
 * is tried too, so patterns never list operand orders by hand.
 */
export const binary = <K extends OpKind, M>(n: Node | undefined, op: K, f: (a: Node, b: Node) => M | null): M | null => {
  const b = as(n, op)
  if (b === null || b.inputs.length !== 2) return null
  return f(b.inputs[0], b.inputs[1]) ?? (commutative.has(op) ? f(b.inputs[1], b.inputs[0]) : null)
}

/** Whether two permutations are equal. */
export const samePerm = (a: readonly number[], b: readonly number[]): boolean => a.length === b.length && a.every((p, i) => p === b[i])

export { sameShape } from '../ir/node.js'
