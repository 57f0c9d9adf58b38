/**
 * Reverse-mode differentiation as a graph transform, micrograd style: sort the loss's
 * subgraph topologically, walk it in reverse, and accumulate each node's cotangent into
 * its inputs through the `vjp` table.
 * @since 0.1.0
 */
import * as E from 'fp-ts/lib/Either.js'
import { isFloat } from '../ir/dtype.js'
import type { CmgaError } from '../errors.js'
import { fail, raise, tryBuild } from '../errors.js'
import type { Graph, Output } from '../ir/graph.js'
import { graph, paramsOf, topoFrom } from '../ir/graph.js'
import type { Node } from '../ir/node.js'
import { sameType, showType } from '../ir/node.js'
import { add, scalar } from '../ir/build.js'
import { zerosOf } from './helpers.js'
import { vjp } from './vjp.js'

// -------------------------------------------------------------------------------------
// model
// -------------------------------------------------------------------------------------

/** Options of `grad`. */
export interface GradOptions {
  /** Upper bounds of named dims, for slices along named axes (see `VjpContext`). */
  readonly dimBounds?: Readonly<Record<string, number>>
}

type Leaf = Node<'Input'> | Node<'Param'>

const isLeaf = (n: Node): n is Leaf => n.op === 'Input' || n.op === 'Param'

// -------------------------------------------------------------------------------------
// the transform
// -------------------------------------------------------------------------------------

/**
 * The cotangent of `loss` (a float scalar) with respect to each node of `wrt`, walking
 * only the nodes that lie on a path from some `wrt` node to the loss. A `wrt` node the
 * loss does not depend on gets zeros.
 */
export const backward = (loss: Node, wrt: readonly Node[], opts: GradOptions = {}): readonly Node[] =>
  backwardReached(loss, wrt, opts).map((c, i) => c ?? zerosOf(wrt[i].dtype, wrt[i].shape))

/**
 * `backward`, with null for each `wrt` node no gradient reaches: one the loss does not
 * use, or uses only through what carries none (indices, a `StopGradient`).
 */
export const backwardReached = (loss: Node, wrt: readonly Node[], opts: GradOptions = {}): ReadonlyArray<Node | null> => {
  const ctx = { dimBounds: opts.dimBounds ?? {} }
  const order = topoFrom([loss])
  const targets = new Set(wrt)
  const onPath = new Set<Node>()
  for (const n of order) {
    if (targets.has(n) || n.inputs.some((m) => onPath.has(m))) onPath.add(n)
  }
  const cotangent = new Map<Node, Node>([[loss, scalar(1, loss.dtype)]])
  for (let i = order.length - 1; i >= 0; i--) {
    const n = order[i]
    const g = cotangent.get(n)
    if (g === undefined || !onPath.has(n) || n.inputs.length === 0) continue
    const contributions = vjp(n, g, ctx)
    n.inputs.forEach((m, j) => {
      const c = contributions[j]
      if (c === null || !onPath.has(m) || !isFloat(m.dtype)) return
      if (!sameType(c, m)) raise('verify', `vjp of ${n.op} gave ${showType(c)} for input ${j} of type ${showType(m)}`)
      const prev = cotangent.get(m)
      cotangent.set(m, prev === undefined ? c : add(prev, c))
    })
  }
  return wrt.map((w) => cotangent.get(w) ?? null)
}

/**
 * A new graph with the same inputs whose outputs are `g`'s outputs plus `grad.<name>`
 * for each `wrt` node: the gradient of the output `loss` (a float scalar) with respect
 * to that parameter or input, named by it. `'params'` means every parameter `g` uses.
 */
export const grad = (g: Graph, loss: string, wrt: readonly Node[] | 'params', opts: GradOptions = {}): E.Either<CmgaError, Graph> => {
  const out = g.outputs.find((o) => o.name === loss)
  if (out === undefined) return fail('usage', `grad: graph ${g.name} has no output "${loss}"`)
  if (!isFloat(out.node.dtype) || out.node.shape.length !== 0) {
    return fail('shape', `grad: loss "${loss}" must be a float scalar, got ${showType(out.node)}`)
  }
  const leaves = wrt === 'params' ? paramsOf(g) : wrt
  const bad = leaves.find((n) => !isLeaf(n) || !isFloat(n.dtype))
  if (bad !== undefined) return fail('usage', `grad: can only differentiate with respect to float inputs and parameters, got ${bad.op} ${showType(bad)}`)
  const names = (leaves as readonly Leaf[]).map((n) => `grad.${n.attrs.name}`)
  const taken = names.find((name, i) => names.indexOf(name) !== i || g.outputs.some((o) => o.name === name))
  if (taken !== undefined) return fail('usage', `grad: output "${taken}" would be defined twice`)
  return E.map((grads: readonly Node[]): Graph => {
    const extra: Output[] = grads.map((node, i) => ({ name: names[i], node }))
    return graph(g.name, g.inputs, [...g.outputs, ...extra])
  })(tryBuild(() => backward(out.node, leaves, opts)))
}
