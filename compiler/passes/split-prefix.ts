/**
 * Splitting a graph where it starts to depend on some of its inputs. Under `joint`
 * guidance the vision encoder does not read the text until the first compression
 * block's token selection: splitting there gives a per-image prefix (computed once per
 * image) and a per-pair suffix that takes what the prefix computed as an input.
 * @since 0.1.0
 */
import * as E from 'fp-ts/lib/Either.js'
import type { CmgaError } from '../errors.js'
import { fail } from '../errors.js'
import type { Graph } from '../ir/graph.js'
import { topo } from '../ir/graph.js'
import type { Node } from '../ir/node.js'
import { make } from '../ir/node.js'
import { sizeOf } from '../ir/tensor.js'
import { runRules, simpleRule } from './rewrite.js'

/** The two halves of a split graph. */
export interface Split {
  /** The early inputs -> one output, named `cutName`: the cut values packed. */
  readonly prefix: Graph
  /** The packed cut values (an input named `cutName`) and the late inputs -> the original outputs. */
  readonly suffix: Graph
  /** The values the graph was cut at (nodes of the original graph), in packing order. */
  readonly cut: readonly Node[]
}

/** Nodes reached from `sources` through consumers. */
const reachedFrom = (order: readonly Node[], sources: ReadonlySet<Node>): Set<Node> => {
  const reached = new Set<Node>()
  for (const n of order) if (sources.has(n) || n.inputs.some((m) => reached.has(m))) reached.add(n)
  return reached
}

/**
 * Splits `g` at the frontier of its late part: every value that depends only on the
 * inputs not named in `late` and is read by a node that depends on a late one. The
 * prefix computes those values and gives them packed in one float32 [B, P] value (each
 * flattened after its batch dimension, concatenated in topological order); the suffix
 * unpacks them (Slice + Reshape) and computes the rest. Fails when `late` names no input
 * or every input, when an output does not depend on a late input, or when a cut value is
 * not float32 [B, static...] with the early inputs' batch dimension B.
 */
export const splitPrefix = (g: Graph, late: readonly string[], cutName: string): E.Either<CmgaError, Split> => {
  const lateInputs = g.inputs.filter((i) => late.includes(i.attrs.name))
  const earlyInputs = g.inputs.filter((i) => !late.includes(i.attrs.name))
  if (lateInputs.length === 0 || earlyInputs.length === 0) return fail('shape', `split ${g.name}: late inputs [${late.join(', ')}] must name some but not all inputs`)
  const order = topo(g)
  const isLate = reachedFrom(order, new Set<Node>(lateInputs))
  const isEarly = reachedFrom(order, new Set<Node>(earlyInputs))
  if (g.outputs.some((o) => !isLate.has(o.node))) return fail('shape', `split ${g.name}: some outputs do not depend on [${late.join(', ')}]`)
  const feedsLate = new Set(order.filter((u) => isLate.has(u)).flatMap((u) => u.inputs))
  const cut = order.filter((n) => isEarly.has(n) && !isLate.has(n) && feedsLate.has(n))
  const B = earlyInputs[0].shape[0]
  const bad = cut.find((n) => n.dtype !== 'float32' || n.shape[0] !== B || n.shape.slice(1).some((d) => typeof d !== 'number'))
  if (bad !== undefined) return fail('shape', `split ${g.name}: a cut value is ${bad.dtype} [${bad.shape.join(', ')}], not float32 [${B}, static dims...]`)
  const sizes = cut.map((n) => sizeOf(n.shape.slice(1) as number[]))
  const P = sizes.reduce((a, b) => a + b, 0)
  const packed = make('Concat', cut.map((n, i) => make('Reshape', [n], { shape: [B, sizes[i]] })), { axis: 1 })
  const input = make('Input', [], { name: cutName, dtype: 'float32', shape: [B, P] })
  const unpacked = new Map<Node, Node>()
  cut.reduce((at, n, i) => {
    unpacked.set(n, make('Reshape', [make('Slice', [input], { starts: [at], ends: [at + sizes[i]], axes: [1], steps: [1] })], { shape: n.shape }))
    return at + sizes[i]
  }, 0)
  const r = runRules(g, [simpleRule('cut', undefined, (_, ctx) => unpacked.get(ctx.original) ?? null)])
  return E.right({
    prefix: { name: `${g.name}_prefix`, inputs: earlyInputs, outputs: [{ name: cutName, node: packed }] },
    suffix: { name: `${g.name}_suffix`, inputs: [input, ...lateInputs], outputs: r.graph.outputs },
    cut
  })
}
