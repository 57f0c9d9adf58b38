/**
 * Contrast captions of a shapes-world caption: the same words with one thing about the
 * scene made false, each a kind of mistake a matcher can make (the relation turned
 * around along its axis, the colours swapped between the objects, a shape changed). Scoring
 * an image against its caption and each contrast says which of these a model tells apart.
 * @since 0.1.0
 */
import type { Relation } from './shapes-world.js'
import { COLOURS, RELATIONS, SHAPES } from './shapes-world.js'
import { meaningOf } from './meaning.js'

/** What a contrast makes false. */
export const CONTRAST_KINDS = ['relation (left/right)', 'relation (above/below)', 'colours swapped', 'shape changed'] as const
export type ContrastKind = (typeof CONTRAST_KINDS)[number]

/** A contrast caption and what it makes false. */
export interface Contrast {
  readonly kind: ContrastKind
  readonly caption: string
}

const OPPOSITE: Readonly<Record<Relation, Relation>> = { 'left of': 'right of', 'right of': 'left of', above: 'below', below: 'above' }

/**
 * The contrasts of a caption `a {c1} {s1} {relation} a {c2} {s2}` (shapes-world spec): the
 * opposite relation, the two colours swapped (the spec draws them distinct), and s1 turned
 * into the next shape of the spec's list; `undefined` for any other text.
 */
export const contrastsOf = (caption: string): readonly Contrast[] | undefined => {
  const m = /^a (\w+) (\w+) (left of|right of|above|below) a (\w+) (\w+)$/.exec(caption.trim().toLowerCase().replace(/\s+/g, ' '))
  if (m === null || !(RELATIONS as readonly string[]).includes(m[3])) return undefined
  const [, c1, s1, relation, c2, s2] = m
  const r = relation as Relation
  const shape = SHAPES.indexOf(s1 as (typeof SHAPES)[number])
  const colours: readonly string[] = COLOURS
  if (shape < 0 || !(SHAPES as readonly string[]).includes(s2) || !colours.includes(c1) || !colours.includes(c2) || c1 === c2) return undefined
  return [
    { kind: r === 'left of' || r === 'right of' ? 'relation (left/right)' : 'relation (above/below)', caption: `a ${c1} ${s1} ${OPPOSITE[r]} a ${c2} ${s2}` },
    { kind: 'colours swapped', caption: `a ${c2} ${s1} ${r} a ${c1} ${s2}` },
    { kind: 'shape changed', caption: `a ${c1} ${SHAPES[(shape + 1) % SHAPES.length]} ${r} a ${c2} ${s2}` }
  ]
}

/** How a shapes-world caption differs from a query's, as a re-rank candidate can. */
export const CONFUSION_KINDS = ['same meaning', 'relation reversed', 'relation on the other axis', 'other objects'] as const
export type ConfusionKind = (typeof CONFUSION_KINDS)[number]

const AXIS: Readonly<Record<Relation, 'horizontal' | 'vertical'>> = { 'left of': 'horizontal', 'right of': 'horizontal', above: 'vertical', below: 'vertical' }

/**
 * What `other` gets wrong against `query` (both shapes-world captions, else `undefined`):
 * nothing (the same meaning: a synonym or the same caption), the relation reversed (the
 * same objects, the same axis), the relation on the other axis (the same objects), or the
 * objects (a colour or a shape differs).
 */
export const confusionOf = (query: string, other: string): ConfusionKind | undefined => {
  const parse = (c: string): { readonly objects: string; readonly axis: string } | undefined => {
    const key = meaningOf(c)
    if (key === undefined) return undefined
    const [first, relation, second] = key.split('|')
    return { objects: `${first}|${second}`, axis: AXIS[relation as Relation] }
  }
  const [q, o] = [parse(query), parse(other)]
  if (q === undefined || o === undefined) return undefined
  if (meaningOf(query) === meaningOf(other)) return 'same meaning'
  const swapped = (x: string): string => x.split('|').reverse().join('|')
  if (q.objects !== o.objects && q.objects !== swapped(o.objects)) return 'other objects'
  return q.axis === o.axis ? 'relation reversed' : 'relation on the other axis'
}
