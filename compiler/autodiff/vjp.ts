/**
 * Vector-Jacobian products: one rule per op kind, JAX `ad.py` style. A rule gets the
 * node (with its inputs and attributes) and the cotangent `g` of its output (same type
 * as the node) and returns one entry per input: that input's cotangent contribution
 * (same type as the input), or `null` where the input carries no gradient (integer and
 * bool inputs, indices, masks). Rules are written with the compiler's builders
 * (`ir/build.ts`), so they build ordinary interned IR nodes; a rule that cannot express
 * a gradient throws a `BuildError`.
 *
 * The table is split by op group: `vjp-math.ts` (elementwise, contractions, reductions,
 * normalizations), `vjp-shape.ts` (movement and indexing) and `vjp-fused.ts` (fused
 * inference ops, which raise).
 * @since 0.1.0
 */
import type { Node } from '../ir/node.js'
import type { OpAttrs, OpKind } from '../ir/ops.js'
import { mathRules } from './vjp-math.js'
import { shapeRules } from './vjp-shape.js'
import { fusedRules } from './vjp-fused.js'

// -------------------------------------------------------------------------------------
// model
// -------------------------------------------------------------------------------------

/** A node as its rule sees it: attributes typed by its op kind. */
export type Applied<A> = Omit<Node, 'attrs'> & { readonly attrs: A }

/** What a few rules need beyond the node and its cotangent. */
export interface VjpContext {
  /**
   * Upper bounds of named dims (`{ L: 512 }`). Only the transpose of a slice along a
   * named axis needs one: it gathers through a constant iota of that length.
   */
  readonly dimBounds: Readonly<Record<string, number>>
}

/** A rule: node, output cotangent and context to one cotangent (or `null`) per input. */
export type Vjp<A> = (n: Applied<A>, g: Node, ctx: VjpContext) => readonly (Node | null)[]

/** The full table type: a missing op kind is a type error. */
export type VjpTable = { readonly [K in OpKind]: Vjp<OpAttrs[K]> }

// -------------------------------------------------------------------------------------
// the table
// -------------------------------------------------------------------------------------

/** Gradient rules, one per op kind. */
export const vjpRules: VjpTable = { ...mathRules, ...shapeRules, ...fusedRules }

/** The input cotangents of node `n` given its output cotangent `g`. */
export const vjp = <K extends OpKind>(n: Node<K>, g: Node, ctx: VjpContext = { dimBounds: {} }): readonly (Node | null)[] =>
  (vjpRules[n.op] as Vjp<OpAttrs[K]>)(n as Applied<OpAttrs[K]>, g, ctx)
