/**
 * The one IR node type. Nodes are immutable and interned: `make` returns the existing
 * node when one with the same op, inputs and attributes exists, so structurally equal
 * subgraphs are the same object (common-subexpression elimination for free) and a
 * node's `id` orders it after all of its inputs.
 * @since 0.1.0
 */
import type { DType } from './dtype.js'
import type { OpAttrs, OpKind, Shape } from './ops.js'
import { infer } from './infer.js'
import { contentKey } from './tensor.js'
import { raise } from '../errors.js'

// -------------------------------------------------------------------------------------
// model
// -------------------------------------------------------------------------------------

/** @since 0.1.0 */
export interface Node<K extends OpKind = OpKind> {
  /** Unique, increasing in creation order: inputs always have smaller ids. */
  readonly id: number
  readonly op: K
  readonly inputs: readonly Node[]
  readonly attrs: OpAttrs[K]
  readonly dtype: DType
  readonly shape: Shape
}

/** A node's value type. */
export interface TensorType {
  readonly dtype: DType
  readonly shape: Shape
}

// -------------------------------------------------------------------------------------
// interning
// -------------------------------------------------------------------------------------

let nextId = 0
const table = new Map<string, WeakRef<Node>>()
const registry = new FinalizationRegistry<string>((key) => {
  const ref = table.get(key)
  if (ref !== undefined && ref.deref() === undefined) table.delete(key)
})

const keyOf = (op: OpKind, inputs: readonly Node[], attrs: object): string =>
  op === 'Constant'
    ? `Constant|${contentKey((attrs as OpAttrs['Constant']).value)}` // equal constants intern to one node
    : `${op}|${inputs.map((n) => n.id).join(',')}|${JSON.stringify(attrs)}`

const sameConstant = (a: OpAttrs['Constant']['value'], b: OpAttrs['Constant']['value']): boolean => {
  if (a.dtype !== b.dtype || a.shape.length !== b.shape.length || a.data.length !== b.data.length) return false
  if (a.shape.some((d, i) => d !== b.shape[i])) return false
  for (let i = 0; i < a.data.length; i++) if (a.data[i] !== b.data[i] && !(Number.isNaN(a.data[i]) && Number.isNaN(b.data[i]))) return false
  return true
}

/**
 * Makes (or finds) the node `op(inputs; attrs)`, inferring its type. Throws a
 * `BuildError` (kind 'shape') when inference rejects it: graph-building code is plain
 * functions, and `tryBuild` at the boundary turns that into a value.
 */
export const make = <K extends OpKind>(op: K, inputs: readonly Node[], attrs: OpAttrs[K]): Node<K> => {
  const key = keyOf(op, inputs, attrs)
  const found = table.get(key)?.deref() as Node<K> | undefined
  if (found !== undefined && (op !== 'Constant' || sameConstant((found.attrs as OpAttrs['Constant']).value, (attrs as OpAttrs['Constant']).value))) {
    return found
  }
  const type = infer(op, inputs, attrs)
  if (typeof type === 'string') return raise('shape', `${op}: ${type}`)
  const node: Node<K> = Object.freeze({ id: nextId++, op, inputs: Object.freeze([...inputs]), attrs: Object.freeze(attrs) as OpAttrs[K], dtype: type.dtype, shape: Object.freeze([...type.shape]) })
  if (found === undefined) {
    table.set(key, new WeakRef(node))
    registry.register(node, key)
  }
  return node
}

/** Narrows a node to a kind. */
export const isOp = <K extends OpKind>(n: Node, op: K): n is Node<K> => n.op === op

/** Whether two shapes (or any two lists) are equal element by element. */
export const sameShape = (a: readonly unknown[], b: readonly unknown[]): boolean => a.length === b.length && a.every((d, i) => d === b[i])

/** Whether two values have one dtype and one shape. */
export const sameType = (a: TensorType, b: TensorType): boolean => a.dtype === b.dtype && sameShape(a.shape, b.shape)

/** `float32[B,197,768]`. */
export const showType = (t: TensorType): string => `${t.dtype}[${t.shape.join(',')}]`
