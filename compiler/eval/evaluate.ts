/**
 * The reference interpreter: binds a graph's inputs and parameters, then walks it in
 * topological order applying `evalRules`. Named dims (`B`) get their sizes from the
 * feeds while binding; each node's computed shape is then checked against its declared
 * one, which also teaches the sizes of dims that nodes introduce (`L-1` from a Slice).
 * @since 0.1.0
 */
import * as E from 'fp-ts/lib/Either.js'
import type { CmgaError } from '../errors.js'
import { fail } from '../errors.js'
import type { Graph } from '../ir/graph.js'
import { paramsOf, topo, topoFrom } from '../ir/graph.js'
import type { Node } from '../ir/node.js'
import { showType } from '../ir/node.js'
import type { Dim, OpAttrs, OpKind } from '../ir/ops.js'
import type { HostTensor } from '../ir/tensor.js'
import { evalRules } from './rules.js'
import type { Rule, Value } from './value.js'
import { EvalError, fit, fromHost, toHost } from './value.js'

// -------------------------------------------------------------------------------------
// named dims
// -------------------------------------------------------------------------------------

/** Run-time sizes of named dims: bound from the feeds, then learned from each evaluated node's shape. */
export type Dims = Map<string, number>

/** The run-time size of a dim; throws an `EvalError` for a name not bound yet. */
const sizeIn =
  (dims: ReadonlyMap<string, number>) =>
  (d: Dim): number => {
    if (typeof d === 'number') return d
    const size = dims.get(d)
    if (size === undefined) throw new EvalError('shape', `dim ${d} has no known size`)
    return size
  }

/**
 * Matches a node's declared shape against the shape its rule computed: static dims must
 * agree, named dims seen before must keep their size, new ones (`L-1` from a Slice) are
 * recorded in `dims`.
 */
const unify = (node: Node, result: Value, dims: Dims): void => {
  const wrong = (): never => {
    throw new EvalError('shape', `${node.op}#${node.id} is typed ${showType(node)} but computed ${showType(result)}`)
  }
  if (result.dtype !== node.dtype || result.shape.length !== node.shape.length) wrong()
  node.shape.forEach((d, k) => {
    if (typeof d === 'string' && !dims.has(d)) dims.set(d, result.shape[k])
    if (sizeIn(dims)(d) !== result.shape[k]) wrong()
  })
}

// -------------------------------------------------------------------------------------
// nodes
// -------------------------------------------------------------------------------------

/**
 * Evaluates one node from the values of its inputs, rounding the result to the node's
 * dtype. Named dims are looked up in `dims`, and the ones the node's shape introduces are
 * added to it; none are needed when every shape is static (constant folding).
 */
export const evalNode = (node: Node, inputs: readonly Value[], dims: Dims = new Map()): Value => {
  const out = { dtype: node.dtype, shape: node.shape, dim: sizeIn(dims) }
  const result = fit((evalRules[node.op] as Rule<OpAttrs[OpKind]>)(inputs, node.attrs, out))
  unify(node, result, dims)
  return result
}

/**
 * Evaluates every node the roots reach, given the values of the leaves that have none of
 * their own (`Input`, `Param`) and the sizes of named dims they bind; returns `bound`
 * extended with every reached node's value.
 */
export const evaluateNodes = (roots: readonly Node[], bound: ReadonlyMap<Node, Value>, dims: ReadonlyMap<string, number> = new Map()): Map<Node, Value> => {
  const env = new Map(bound)
  const known = new Map(dims)
  for (const n of topoFrom(roots)) {
    if (!env.has(n)) env.set(n, evalNode(n, n.inputs.map((m) => env.get(m) as Value), known))
  }
  return env
}

// -------------------------------------------------------------------------------------
// binding
// -------------------------------------------------------------------------------------

type Leaf = OpAttrs['Input'] | OpAttrs['Param']

/** Who bound each named dim, and to what. */
type DimBindings = Map<string, { readonly size: number; readonly by: string }>

/** Checks a host tensor against a leaf's declared type, binding its named dims. */
const bind = (what: string, leaf: Leaf, t: HostTensor, dims: DimBindings): string | null => {
  const mismatch = `${what}: expected ${showType(leaf)}, got ${showType(t)}`
  if (t.dtype !== leaf.dtype || t.shape.length !== leaf.shape.length) return mismatch
  for (let k = 0; k < t.shape.length; k++) {
    const d = leaf.shape[k]
    if (typeof d === 'number') {
      if (d !== t.shape[k]) return mismatch
      continue
    }
    const prev = dims.get(d)
    if (prev === undefined) dims.set(d, { size: t.shape[k], by: what })
    else if (prev.size !== t.shape[k]) return `${what}: dim ${d} is ${t.shape[k]}, but ${prev.by} has ${d} = ${prev.size}`
  }
  return null
}

// -------------------------------------------------------------------------------------
// graphs
// -------------------------------------------------------------------------------------

/**
 * Runs a graph on host feeds (by input name) and parameters (by parameter name), returning
 * every output by name. A missing or mis-typed feed is a Left of kind 'input', a missing or
 * mis-shaped parameter one of kind 'weights'; data-dependent failures (an index out of
 * range) are Lefts too.
 */
export const evaluate = (
  g: Graph,
  feeds: Readonly<Record<string, HostTensor>>,
  params: ReadonlyMap<string, HostTensor> = new Map()
): E.Either<CmgaError, Record<string, HostTensor>> => {
  const order = topo(g)
  const dims: DimBindings = new Map()
  const bound = new Map<Node, Value>()
  const inputs = [...new Set([...g.inputs, ...order.filter((n): n is Node<'Input'> => n.op === 'Input')])]
  for (const n of inputs) {
    const { name } = n.attrs
    const what = `input "${name}"`
    const feed = Object.hasOwn(feeds, name) ? feeds[name] : undefined
    if (feed === undefined) return fail('input', `${what}: missing feed (expected ${showType(n)})`)
    const err = bind(what, n.attrs, feed, dims)
    if (err !== null) return fail('input', err)
    bound.set(n, fromHost(feed))
  }
  for (const n of paramsOf(g)) {
    const { name } = n.attrs
    const what = `parameter "${name}"`
    const t = params.get(name)
    if (t === undefined) return fail('weights', `${what}: missing (expected ${showType(n)})`)
    const err = bind(what, n.attrs, t, dims)
    if (err !== null) return fail('weights', err)
    bound.set(n, fromHost(t))
  }
  try {
    const sizes = new Map([...dims].map(([d, { size }]) => [d, size]))
    const env = evaluateNodes(g.outputs.map((o) => o.node), bound, sizes)
    return E.right(Object.fromEntries(g.outputs.map((o) => [o.name, toHost(env.get(o.node) as Value)])))
  } catch (e) {
    if (e instanceof EvalError) return fail(e.kind, `graph ${g.name}: ${e.message}`)
    throw e
  }
}
