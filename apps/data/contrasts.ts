/**
 * Contrast captions of a shapes-world caption: the same words with one thing about the
 * scene made false, each a kind of mistake a matcher can make (the relation turned
 * around along its axis, the colours swapped between the objects, a shape changed). Scoring
 * an image against its caption and each contrast says which of these a model tells apart.
 * @since 0.1.0
 */
import type { Relation } from './shapes-world.js'
import { SHAPES } from './shapes-world.js'
import { OPPOSITE, captionParts, meaningOf } from './meaning.js'

/** The axis a relation lies on. */
const AXIS: Readonly<Record<Relation, 'horizontal' | 'vertical'>> = { 'left of': 'horizontal', 'right of': 'horizontal', above: 'vertical', below: 'vertical' }

/** What a contrast makes false. */
export const CONTRAST_KINDS = ['relation (left/right)', 'relation (above/below)', 'colours swapped', 'shape changed'] as const
export type ContrastKind = (typeof CONTRAST_KINDS)[number]

/** A contrast caption and what it makes false. */
export interface Contrast {
  readonly kind: ContrastKind
  readonly caption: string
}

/**
 * The contrasts of a caption `a {c1} {s1} {relation} a {c2} {s2}` (shapes-world spec): the
 * opposite relation, the two colours swapped (the spec draws them distinct), and s1 turned
 * into the next shape of the spec's list; `undefined` for any other text.
 */
export const contrastsOf = (caption: string): readonly Contrast[] | undefined => {
  const p = captionParts(caption)
  if (p === undefined || p.c1 === p.c2) return undefined
  const { c1, s1, relation: r, c2, s2 } = p
  return [
    { kind: AXIS[r] === 'horizontal' ? 'relation (left/right)' : 'relation (above/below)', caption: `a ${c1} ${s1} ${OPPOSITE[r]} a ${c2} ${s2}` },
    { kind: 'colours swapped', caption: `a ${c2} ${s1} ${r} a ${c1} ${s2}` },
    { kind: 'shape changed', caption: `a ${c1} ${SHAPES[(SHAPES.indexOf(s1) + 1) % SHAPES.length]} ${r} a ${c2} ${s2}` }
  ]
}

/** How a shapes-world caption differs from a query's, as a re-rank candidate can. */
export const CONFUSION_KINDS = ['same meaning', 'relation reversed', 'relation on the other axis', 'other objects'] as const
export type ConfusionKind = (typeof CONFUSION_KINDS)[number]

/**
 * What `other` gets wrong against `query` (both shapes-world captions, else `undefined`):
 * nothing (the same meaning: a synonym or the same caption), the relation reversed (the
 * same objects, the same axis), the relation on the other axis (the same objects), or the
 * objects (a colour or a shape differs).
 */
export const confusionOf = (query: string, other: string): ConfusionKind | undefined => {
  const [q, o] = [captionParts(query), captionParts(other)]
  if (q === undefined || o === undefined) return undefined
  if (meaningOf(query) === meaningOf(other)) return 'same meaning'
  const objects = (p: typeof q): string => [`${p.c1} ${p.s1}`, `${p.c2} ${p.s2}`].sort().join('|')
  if (objects(q) !== objects(o)) return 'other objects'
  return AXIS[q.relation] === AXIS[o.relation] ? 'relation reversed' : 'relation on the other axis'
}
