/**
 * What a shapes-world caption means: two captions mean the same scene when they name the
 * same objects in the same relation, whichever object comes first ("a red circle left of
 * a blue square" is "a blue square right of a red circle": the spec draws both the same
 * way). A held-out set therefore holds exact synonyms, which no model can tell apart.
 * @since 0.1.0
 */
import type { Colour, Relation, Shape } from './shapes-world.js'
import { COLOURS, RELATIONS, SHAPES } from './shapes-world.js'

/** The relation seen from the other object. */
export const OPPOSITE: Readonly<Record<Relation, Relation>> = { 'left of': 'right of', 'right of': 'left of', above: 'below', below: 'above' }

const isOne = <A extends string>(xs: readonly A[], x: string): x is A => (xs as readonly string[]).includes(x)

/** A shapes-world caption's parts: `a {c1} {s1} {relation} a {c2} {s2}`. */
export interface CaptionParts {
  readonly c1: Colour
  readonly s1: Shape
  readonly relation: Relation
  readonly c2: Colour
  readonly s2: Shape
}

/** The parts of a shapes-world caption (any case and spacing); `undefined` for other text. */
export const captionParts = (caption: string): CaptionParts | undefined => {
  const m = /^a (\w+) (\w+) (left of|right of|above|below) a (\w+) (\w+)$/.exec(caption.trim().toLowerCase().replace(/\s+/g, ' '))
  if (m === null) return undefined
  const [, c1, s1, relation, c2, s2] = m
  return isOne(COLOURS, c1) && isOne(COLOURS, c2) && isOne(SHAPES, s1) && isOne(SHAPES, s2) && isOne(RELATIONS, relation) ? { c1, s1, relation, c2, s2 } : undefined
}

/**
 * One key per meaning: the caption's two objects in a fixed order with the relation
 * turned to match; `undefined` for text that is not a shapes-world caption.
 */
export const meaningOf = (caption: string): string | undefined => {
  const p = captionParts(caption)
  if (p === undefined) return undefined
  const { c1, s1, relation, c2, s2 } = p
  const forward = `${c1} ${s1}|${relation}|${c2} ${s2}`
  const backward = `${c2} ${s2}|${OPPOSITE[relation]}|${c1} ${s1}`
  return forward < backward ? forward : backward
}
