/**
 * What a model tells apart on the shapes world: each image scored against its own caption
 * and the caption's contrasts (`apps/data/contrasts.ts`), by stage 1 (global + local score)
 * and by the ITM head; per kind of contrast, how often the true caption scores higher.
 * Re-ranking can only gain where the ITM head tells apart what stage 1 does not.
 * @since 0.1.0
 */
import { join } from 'node:path'
import * as E from 'fp-ts/lib/Either.js'
import type * as TE from 'fp-ts/lib/TaskEither.js'
import type { CmgaError } from '../../compiler/errors.js'
import type { RerankGuidance, Runtime } from '../cmga/runtime.js'
import { percentOf } from '../cmga/rank.js'
import type { ContrastKind } from '../data/contrasts.js'
import { CONTRAST_KINDS, contrastsOf } from '../data/contrasts.js'
import { loadImages } from '../../runtime/images/index.js'
import type { Annotations } from './annotations.js'
import type { Stage1Score } from './evaluate.js'
import { stage1Of } from './evaluate.js'

/** Options of `evaluateContrasts`. */
export interface ContrastOptions {
  /** The folder image paths are relative to. */
  readonly root: string
  /** The visual tokens the ITM head reads (default `joint`). */
  readonly guidance?: RerankGuidance
  /** What stage 1 scores by: global + local (default, spec section 7) or the global score alone (a CLIP-style model). */
  readonly stage1?: Stage1Score
  readonly onProgress?: (phase: string, done: number, total: number) => void
}

/** Per kind: pairs (image, contrast) and the percent where the true caption wins, by each score. */
export interface ContrastResult {
  readonly pairs: number
  readonly stage1: number
  readonly itm: number
}

/** The report: images used (their first caption is a shapes-world one), images left out, results by kind. */
export interface ContrastReport {
  readonly images: number
  readonly leftOut: number
  readonly guidance: RerankGuidance
  readonly stage1Score: Stage1Score
  readonly kinds: Readonly<Record<ContrastKind, ContrastResult>>
}

/** Scores every image with a shapes-world caption against it and its contrasts, 64 images at a time. */
export const evaluateContrasts = (rt: Runtime, a: Annotations, o: ContrastOptions): TE.TaskEither<CmgaError, ContrastReport> => async () => {
  const items = a.images.flatMap((path, i) => {
    const caption = a.texts[a.imageTexts[i][0]]
    const cs = caption === undefined ? undefined : contrastsOf(caption)
    return cs === undefined ? [] : [{ path, caption, contrasts: cs }]
  })
  const score = o.stage1 ?? 'global+local'
  const stage1 = stage1Of(score)
  const wins = new Map(CONTRAST_KINDS.map((k) => [k, { pairs: 0, stage1: 0, itm: 0 }]))
  const shard = 64
  for (let from = 0; from < items.length; from += shard) {
    o.onProgress?.('images', from, items.length)
    const part = items.slice(from, from + shard)
    const px = await loadImages(part.map((x) => join(o.root, x.path)), rt.config.vision.imageSize, { onError: 'fail' })
    if (E.isLeft(px)) return px
    // per image: its caption, then its contrasts
    const per = 1 + part[0].contrasts.length
    const texts = part.flatMap((x) => [x.caption, ...x.contrasts.map((c) => c.caption)])
    const tf = await rt.encodeTexts(texts)()
    if (E.isLeft(tf)) return tf
    const im = await rt.encodeImages(px.right.pixels)()
    if (E.isLeft(im)) return im
    const s = await rt.score(im.right, tf.right)()
    if (E.isLeft(s)) return s
    const ms = await rt.match(px.right.pixels, tf.right, texts.map((_, t) => [Math.floor(t / per), t] as const), o.guidance)()
    if (E.isLeft(ms)) return ms
    part.forEach((x, i) => {
      const own = per * i
      x.contrasts.forEach((c, k) => {
        const w = wins.get(c.kind) as { pairs: number; stage1: number; itm: number }
        w.pairs++
        if (stage1(s.right, i, own) > stage1(s.right, i, own + 1 + k)) w.stage1++
        if (ms.right[own].logOdds > ms.right[own + 1 + k].logOdds) w.itm++
      })
    })
  }
  o.onProgress?.('images', items.length, items.length)
  const kinds = Object.fromEntries([...wins].map(([k, w]) => [k, { pairs: w.pairs, stage1: percentOf(w.stage1, w.pairs), itm: percentOf(w.itm, w.pairs) }])) as Record<ContrastKind, ContrastResult>
  return E.right({ images: items.length, leftOut: a.images.length - items.length, guidance: o.guidance ?? 'joint', stage1Score: score, kinds })
}
