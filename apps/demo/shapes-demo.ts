/**
 * What `cmga demo` shows with the shipped shapes-world model: text queries ranking the
 * bundled images, and an image ranking captions, some of which differ from its own only
 * in which colour belongs to which shape or in the relation (a bag-of-words matcher
 * cannot tell those apart). Each ranking is stage 1 (global + local score) with the
 * ITM match probability of every entry beside it.
 * @since 0.1.0
 */
import { join } from 'node:path'
import * as E from 'fp-ts/lib/Either.js'
import type { CmgaError } from '../../compiler/errors.js'
import { loadImages } from '../../runtime/images/index.js'
import { stage1 } from '../cmga/runtime.js'
import type { Runtime } from '../cmga/runtime.js'

/** The bundled inputs: images (relative to `root`) and their captions. */
export interface DemoSet {
  readonly root: string
  readonly images: readonly string[]
  readonly captions: readonly string[]
}

/** One ranked entry. */
export interface DemoEntry {
  readonly label: string
  readonly stage1: number
  /** ITM match probability under joint guidance. */
  readonly itm: number
  /** Whether this is the entry the query describes (or is described by). */
  readonly correct: boolean
}

/** One query and its ranking, best first. */
export interface DemoRanking {
  readonly query: string
  readonly ranked: readonly DemoEntry[]
}

const swapWords = (s: string, a: string, b: string): string => s.split(' ').map((w) => (w === a ? b : w === b ? a : w)).join(' ')

/** `a c1 s1 REL a c2 s2` with the two colours exchanged. */
export const swapColours = (caption: string): string => {
  const w = caption.split(' ')
  const [c1, c2] = [w[1], w[w.length - 2]]
  return swapWords(caption, c1, c2)
}

/** The relation turned around (left <-> right, above <-> below): a different scene. */
export const flipRelation = (caption: string): string => swapWords(swapWords(caption, 'left', 'right'), 'above', 'below')

/** Runs the demo's queries on an open runtime. */
export const runShapesDemo = async (rt: Runtime, set: DemoSet, textQueries: readonly string[], imageQuery: number): Promise<E.Either<CmgaError, DemoRanking[]>> => {
  const px = await loadImages(set.images.map((p) => join(set.root, p)), rt.config.vision.imageSize, { onError: 'fail' })
  if (E.isLeft(px)) return px
  const pixels = px.right.pixels
  const img = await rt.encodeImages(pixels)()
  if (E.isLeft(img)) return img
  const out: DemoRanking[] = []

  // Text -> images.
  const tf = await rt.encodeTexts(textQueries)()
  if (E.isLeft(tf)) return tf
  const s = await rt.score(img.right, tf.right)()
  if (E.isLeft(s)) return s
  for (const [j, q] of textQueries.entries()) {
    const pairs = set.images.map((_, i) => [i, j] as const)
    const m = await rt.match(pixels, tf.right, pairs)()
    if (E.isLeft(m)) return m
    const ranked = set.images
      .map((name, i) => ({ label: `${name}  (${set.captions[i]})`, stage1: stage1(s.right, i, j), itm: m.right[i].probability, correct: set.captions[i] === q }))
      .sort((a, b) => b.stage1 - a.stage1)
    out.push({ query: `"${q}"`, ranked })
  }

  // Image -> texts: its caption, the others, and two near misses of its own.
  const own = set.captions[imageQuery]
  const texts = [...new Set([...set.captions, swapColours(own), flipRelation(own)])]
  const tt = await rt.encodeTexts(texts)()
  if (E.isLeft(tt)) return tt
  const st = await rt.score(img.right, tt.right)()
  if (E.isLeft(st)) return st
  const mt = await rt.match(pixels, tt.right, texts.map((_, j) => [imageQuery, j] as const))()
  if (E.isLeft(mt)) return mt
  out.push({
    query: set.images[imageQuery],
    ranked: texts.map((t, j) => ({ label: `"${t}"`, stage1: stage1(st.right, imageQuery, j), itm: mt.right[j].probability, correct: t === own })).sort((a, b) => b.stage1 - a.stage1)
  })
  return E.right(out)
}

/** The rankings as text lines. */
export const demoLines = (rankings: readonly DemoRanking[], shown = 5): string[] =>
  rankings.flatMap((r) => [
    '',
    `${r.query.startsWith('"') ? 'text -> images' : 'image -> texts'}: ${r.query}`,
    '   rank  stage-1  ITM p   ',
    ...r.ranked.slice(0, shown).map((e, k) => `   ${String(k + 1).padStart(2)}.  ${e.stage1.toFixed(3).padStart(7)}  ${e.itm.toFixed(3)}  ${e.label}${e.correct ? '   <- the match' : ''}`)
  ])
