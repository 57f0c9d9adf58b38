/**
 * Retrieval evaluation as ALBEF reports it: text retrieval (image -> texts) and image
 * retrieval (text -> images) R@1/5/10 and their mean, for stage 1 (`score_global +
 * score_local`) and after re-ranking the top k with the ITM head by both rules.
 *
 * Stage 1 scores every image against every text when `candidates` covers the whole set
 * (exactly the matrix `Runtime.score` returns); otherwise each query's `candidates`
 * best by global score get the stage-1 score and the rest follow by global score.
 *
 * The image features are encoded, or read from a gallery index of the same images
 * (`index`, either store) by name.
 * @since 0.1.0
 */
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import * as E from 'fp-ts/lib/Either.js'
import * as TE from 'fp-ts/lib/TaskEither.js'
import { pipe } from 'fp-ts/lib/function.js'
import type { CmgaError } from '../../compiler/errors.js'
import { cmgaError } from '../../compiler/errors.js'
import type { ImageFeatures } from '../cmga/features.js'
import { concatImages, selectImages, selectScoredTexts } from '../cmga/features.js'
import type { Candidate, Match, RerankRule } from '../cmga/rank.js'
import { byScore, dotRows, recallAtK, rerankTop, topIndices } from '../cmga/rank.js'
import type { RerankGuidance, Runtime, Scores, ScoredTexts } from '../cmga/runtime.js'
import { stage1 as spec1 } from '../cmga/runtime.js'
import type { OnImageError } from '../../runtime/images/batch.js'
import { loadImages } from '../../runtime/images/batch.js'
import { preCaption } from '../../runtime/text/caption.js'
import { encodeScoredTexts } from './scored-texts.js'
import type { Annotations } from './annotations.js'
import type { ImageStore } from './store/store.js'
import type { Confusion } from './confusions.js'
import { confusions } from './confusions.js'
import type { ConfusionKind } from '../data/contrasts.js'

// -------------------------------------------------------------------------------------
// model
// -------------------------------------------------------------------------------------

/** Options of `evaluateRetrieval`. */
export interface EvalOptions {
  /** The folder image paths are relative to. */
  readonly root: string
  /** Stage-1 candidates per query (default 128). */
  readonly candidates: number
  /** Candidates re-ranked with ITM per query (default 16; 0: stage 1 only). */
  readonly k: number
  /** What stage 1 ranks by: the spec's global + local score (default) or the global score alone. */
  readonly stage1?: Stage1Score
  /** Weight of the ITM log-odds in the combined rule. */
  readonly itmWeight: number
  /** More weights to score the combined rule with, from the same ITM verdicts (e.g. to choose the weight on a validation set). */
  readonly itmWeightSweep?: readonly number[]
  /** Report where text -> image re-ranking goes wrong by kind of candidate (shapes-world captions; `confusions.ts`). */
  readonly confusions?: boolean
  /** The visual tokens the ITM head reads when re-ranking (default `joint`, the spec's). */
  readonly rerankGuidance?: RerankGuidance
  readonly onError: OnImageError
  /** Apply ALBEF's caption clean-up (`pre_caption`, 30 words) first (default true). */
  readonly cleanCaptions?: boolean
  /** Progress: a phase name, items done, items in all. */
  readonly onProgress?: (phase: string, done: number, total: number) => void
  /** Read the image features from this index (by image name) instead of encoding them. */
  readonly index?: ImageStore
}

/** What stage 1 ranks by. */
export type Stage1Score = 'global+local' | 'global'

/** ALBEF's retrieval metrics, in percent. */
export interface Recall {
  readonly txt_r1: number
  readonly txt_r5: number
  readonly txt_r10: number
  readonly txt_r_mean: number
  readonly img_r1: number
  readonly img_r5: number
  readonly img_r10: number
  readonly img_r_mean: number
  readonly r_mean: number
}

/** The evaluation's results. */
export interface EvalReport {
  readonly images: number
  readonly texts: number
  readonly skipped: readonly { readonly path: string; readonly reason: string }[]
  readonly candidates: number
  readonly k: number
  readonly itmWeight: number
  /** Present when k > 0. */
  readonly rerankGuidance?: RerankGuidance
  readonly stage1Score: Stage1Score
  readonly stage1: Recall
  /** Absent when k is 0. */
  readonly rerank_itm?: Recall
  readonly rerank_combined?: Recall
  /** The combined rule at each weight of `itmWeightSweep`, when given. */
  readonly rerank_combined_sweep?: readonly { readonly weight: number; readonly recall: Recall }[]
  /** With `confusions`: per kind of candidate, how often it outscores the true image (text -> image, top k). */
  readonly confusions?: Readonly<Record<ConfusionKind, Confusion>>
}

/** The `confusions` field, when the set's captions are shapes-world ones. */
const confusionsOf = (sub: { texts: readonly string[]; textImage: readonly number[]; imageTexts: readonly (readonly number[])[] }, orders: Orders, ms: { t2i: Match[][] }, k: number): Pick<EvalReport, 'confusions'> => {
  const c = confusions(sub.texts, sub.textImage, (i) => sub.texts[sub.imageTexts[i][0]], orders.t2i, ms.t2i, k)
  return c === undefined ? {} : { confusions: c }
}

/** Each query's ranked list, best first: image -> texts and text -> images. */
interface Orders {
  readonly i2t: Candidate[][]
  readonly t2i: Candidate[][]
}

// -------------------------------------------------------------------------------------
// metrics
// -------------------------------------------------------------------------------------

/** ALBEF's metrics from ranked lists (by index) and the annotations' relevance. */
export const recallOf = (i2t: readonly (readonly number[])[], t2i: readonly (readonly number[])[], imageTexts: readonly (readonly number[])[], textImage: readonly number[]): Recall => {
  const [t1, t5, t10] = recallAtK(i2t, imageTexts.map((ts) => new Set(ts)), [1, 5, 10])
  const [i1, i5, i10] = recallAtK(t2i, textImage.map((i) => new Set([i])), [1, 5, 10])
  const txt = (t1 + t5 + t10) / 3
  const img = (i1 + i5 + i10) / 3
  return { txt_r1: t1, txt_r5: t5, txt_r10: t10, txt_r_mean: txt, img_r1: i1, img_r5: i5, img_r10: i10, img_r_mean: img, r_mean: (txt + img) / 2 }
}

const indices = (lists: readonly (readonly { readonly index: number }[])[]): number[][] => lists.map((l) => l.map((c) => c.index))

// -------------------------------------------------------------------------------------
// stages
// -------------------------------------------------------------------------------------

/** Image features of every image that loads, in shards; which ones loaded and which were skipped. */
const encodeAll = (rt: Runtime, a: Annotations, o: EvalOptions): TE.TaskEither<CmgaError, { features: ImageFeatures; kept: number[]; skipped: EvalReport['skipped'] }> => async () => {
  const shard = 8 * rt.batchSize
  const parts: ImageFeatures[] = []
  const kept: number[] = []
  const skipped: { path: string; reason: string }[] = []
  for (let from = 0; from < a.images.length; from += shard) {
    o.onProgress?.('images', from, a.images.length)
    const names = a.images.slice(from, from + shard)
    const px = await loadImages(names.map((n) => join(o.root, n)), rt.config.vision.imageSize, { onError: o.onError })
    if (E.isLeft(px)) return px
    skipped.push(...px.right.skipped.map((s) => ({ path: names[s.index], reason: s.reason })))
    if (px.right.indices.length === 0) continue
    const f = await rt.encodeImages(px.right.pixels)()
    if (E.isLeft(f)) return f
    parts.push(f.right)
    kept.push(...px.right.indices.map((i) => from + i))
  }
  o.onProgress?.('images', a.images.length, a.images.length)
  if (kept.length === 0) return E.left(cmgaError('input', `none of the ${a.images.length} images could be read`))
  return E.right({ features: concatImages(parts), kept, skipped })
}

/** Image features of the annotations' images read from an index by name; ones it lacks are an error (or skipped under `onError: 'skip'`). */
const readAll = (store: ImageStore, a: Annotations, o: EvalOptions): TE.TaskEither<CmgaError, { features: ImageFeatures; kept: number[]; skipped: EvalReport['skipped'] }> =>
  pipe(
    store.names(),
    TE.chain((names) => {
      const row = new Map(names.map((n, r) => [n, r]))
      const kept = a.images.map((_, i) => i).filter((i) => row.has(a.images[i]))
      const lacking = a.images.filter((p) => !row.has(p))
      if (lacking.length > 0 && o.onError === 'fail') {
        return TE.left(cmgaError('input', `${lacking.length} of ${a.images.length} images are not in index ${store.location}: ${lacking.slice(0, 3).join(', ')}${lacking.length > 3 ? ', ...' : ''}`))
      }
      if (kept.length === 0) return TE.left(cmgaError('input', `none of the ${a.images.length} images is in index ${store.location}`))
      o.onProgress?.('images', 0, a.images.length)
      return TE.map((t: { features: ImageFeatures }) => {
        o.onProgress?.('images', a.images.length, a.images.length)
        return { features: t.features, kept, skipped: lacking.map((path) => ({ path, reason: 'not in the index' })) }
      })(store.take(kept.map((i) => row.get(a.images[i]) as number)))
    })
  )

/** The stage-1 score of image i against text j by `by`: the spec's global + local, or the global score alone. */
export const stage1Of = (by: Stage1Score): ((s: Scores, i: number, j: number) => number) => (by === 'global' ? (s, i, j) => s.global[i * s.texts + j] : spec1)

/** Stage-1 ranked lists for every query. */
const stageOne = (rt: Runtime, img: ImageFeatures, txt: ScoredTexts, C: number, by: Stage1Score): TE.TaskEither<CmgaError, Orders> => {
  const [Ni, Nt] = [img.global.shape[0], txt.global.shape[0]]
  const stage1 = stage1Of(by)
  const list = (n: number, score: (x: number) => number): Candidate[] => byScore(Array.from({ length: n }, (_, x) => ({ index: x, score: score(x) })))
  if (C >= Ni && C >= Nt) {
    return TE.map((s: Scores) => ({
      i2t: Array.from({ length: Ni }, (_, i) => list(Nt, (j) => stage1(s, i, j))),
      t2i: Array.from({ length: Nt }, (_, j) => list(Ni, (i) => stage1(s, i, j)))
    }))(rt.score(img, txt))
  }
  const Ed = rt.config.align.embedDim
  // One query: the C best by global score get the stage-1 score, the rest follow by global score.
  const query = (n: number, globalOf: (x: number) => number, scoreOf: (chosen: number[]) => TE.TaskEither<CmgaError, (c: number) => number>): TE.TaskEither<CmgaError, Candidate[]> => {
    const g = Float64Array.from({ length: n }, (_, x) => globalOf(x))
    const order = topIndices(g)
    const chosen = order.slice(0, C)
    return TE.map((s1: (c: number) => number) => [...byScore(chosen.map((x, c) => ({ index: x, score: s1(c) }))), ...order.slice(C).map((x) => ({ index: x, score: g[x] }))])(scoreOf(chosen))
  }
  return pipe(
    TE.traverseSeqArray((i: number) =>
      query(Nt, (j) => dotRows(img.global.data, i, txt.global.data, j, Ed), (js) => TE.map((s: Scores) => (c: number) => stage1(s, 0, c))(rt.score(selectImages(img, [i]), selectScoredTexts(txt, js))))
    )(Array.from({ length: Ni }, (_, i) => i)),
    TE.bindTo('i2t'),
    TE.bind('t2i', () =>
      TE.traverseSeqArray((j: number) =>
        query(Ni, (i) => dotRows(img.global.data, i, txt.global.data, j, Ed), (is) => TE.map((s: Scores) => (c: number) => stage1(s, c, 0))(rt.score(selectImages(img, is), selectScoredTexts(txt, [j]))))
      )(Array.from({ length: Nt }, (_, j) => j))
    ),
    TE.map(({ i2t, t2i }) => ({ i2t: [...i2t], t2i: [...t2i] }))
  )
}

/**
 * ITM verdicts on each query's top k. The pairs of both directions are computed once
 * each (a pair in an image's top k and in its text's top k is one pair), in image order:
 * a chunk of at most `4 x batch` images and `64 x batch` pairs loads its images, encodes
 * the texts its pairs use and runs each image's prefix once; the suffix and relation
 * stages then take the pairs `batch` at a time.
 */
const matches = (rt: Runtime, texts: readonly string[], images: readonly string[], orders: Orders, k: number, o: EvalOptions): TE.TaskEither<CmgaError, { i2t: Match[][]; t2i: Match[][] }> => async () => {
  const Nt = texts.length
  const S = rt.config.vision.imageSize
  const key = (i: number, j: number): number => i * Nt + j
  const wanted = new Set<number>()
  orders.i2t.forEach((l, i) => l.slice(0, k).forEach((c) => wanted.add(key(i, c.index))))
  orders.t2i.forEach((l, j) => l.slice(0, k).forEach((c) => wanted.add(key(c.index, j))))
  const pairs = [...wanted].sort((a, b) => a - b) // by image, then text
  const verdicts = new Map<number, Match>()
  const [maxImages, maxPairs] = [4 * rt.batchSize, 64 * rt.batchSize]
  for (let from = 0; from < pairs.length; ) {
    o.onProgress?.('re-rank pairs', from, pairs.length)
    const imgs: number[] = []
    let to = from
    for (; to < pairs.length && to - from < maxPairs; to++) {
      const i = Math.floor(pairs[to] / Nt)
      if (imgs.at(-1) !== i && imgs.length === maxImages) break
      if (imgs.at(-1) !== i) imgs.push(i)
    }
    const chunk = pairs.slice(from, to)
    const txts = [...new Set(chunk.map((p) => p % Nt))].sort((a, b) => a - b)
    const [imageRow, textRow] = [new Map(imgs.map((i, r) => [i, r])), new Map(txts.map((j, r) => [j, r]))]
    const px = await loadImages(imgs.map((i) => join(o.root, images[i])), S, { onError: 'fail' })
    if (E.isLeft(px)) return px
    const tf = await rt.encodeTexts(txts.map((j) => texts[j]))()
    if (E.isLeft(tf)) return tf
    const ms = await rt.match(px.right.pixels, tf.right, chunk.map((p) => [imageRow.get(Math.floor(p / Nt)) as number, textRow.get(p % Nt) as number] as const), o.rerankGuidance)()
    if (E.isLeft(ms)) return ms
    chunk.forEach((p, n) => verdicts.set(p, ms.right[n]))
    from = to
  }
  o.onProgress?.('re-rank pairs', pairs.length, pairs.length)
  const verdict = (i: number, j: number): Match => verdicts.get(key(i, j)) as Match
  return E.right({
    i2t: orders.i2t.map((l, i) => l.slice(0, k).map((c) => verdict(i, c.index))),
    t2i: orders.t2i.map((l, j) => l.slice(0, k).map((c) => verdict(c.index, j)))
  })
}

// -------------------------------------------------------------------------------------
// evaluation
// -------------------------------------------------------------------------------------

/** Evaluates retrieval on annotations; missing image files are one error (or skipped under `onError: 'skip'`). */
export const evaluateRetrieval = (rt: Runtime, a: Annotations, o: EvalOptions): TE.TaskEither<CmgaError, EvalReport> => {
  const missing = a.images.filter((p) => !existsSync(join(o.root, p)))
  if (missing.length > 0 && o.onError === 'fail') {
    const shown = missing.slice(0, 3).join(', ') + (missing.length > 3 ? ', ...' : '')
    return TE.left(cmgaError('io', `${missing.length} of ${a.images.length} images are missing under ${o.root}: ${shown}`))
  }
  const clean = o.cleanCaptions ?? true
  return pipe(
    o.index === undefined ? encodeAll(rt, a, o) : readAll(o.index, a, o),
    TE.bindTo('imgs'),
    TE.let('sub', ({ imgs }) => {
      // Keep the images that loaded and their texts, renumbered.
      const newImage = new Map(imgs.kept.map((i, n) => [i, n]))
      const textIds = a.texts.map((_, j) => j).filter((j) => newImage.has(a.textImage[j]))
      const newText = new Map(textIds.map((j, n) => [j, n]))
      return {
        images: imgs.kept.map((i) => a.images[i]),
        texts: textIds.map((j) => (clean ? preCaption(a.texts[j], 30) : a.texts[j])),
        textImage: textIds.map((j) => newImage.get(a.textImage[j]) as number),
        imageTexts: imgs.kept.map((i) => a.imageTexts[i].map((j) => newText.get(j) as number))
      }
    }),
    TE.bind('txt', ({ sub }) => (sub.texts.length === 0 ? TE.left(cmgaError('input', 'the images that loaded have no captions')) : encodeScoredTexts(rt, sub.texts, o.onProgress))),
    TE.bind('orders', ({ imgs, txt }) => {
      o.onProgress?.('stage 1', 0, 1)
      return TE.map((r: Orders) => (o.onProgress?.('stage 1', 1, 1), r))(stageOne(rt, imgs.features, txt, o.candidates, o.stage1 ?? 'global+local'))
    }),
    TE.bind('ms', ({ sub, orders }) => (o.k === 0 ? TE.right(null) : matches(rt, sub.texts, sub.images, orders, o.k, o))),
    TE.map(({ imgs, sub, orders, ms }) => {
      const rerank = (m: { i2t: Match[][]; t2i: Match[][] }, rule: RerankRule): Recall =>
        recallOf(indices(orders.i2t.map((l, q) => rerankTop(l, m.i2t[q], o.k, rule))), indices(orders.t2i.map((l, q) => rerankTop(l, m.t2i[q], o.k, rule))), sub.imageTexts, sub.textImage)
      return {
        images: sub.images.length,
        texts: sub.texts.length,
        skipped: imgs.skipped,
        candidates: o.candidates,
        k: o.k,
        itmWeight: o.itmWeight,
        ...(o.k === 0 ? {} : { rerankGuidance: o.rerankGuidance ?? 'joint' }),
        stage1Score: o.stage1 ?? 'global+local',
        stage1: recallOf(indices(orders.i2t), indices(orders.t2i), sub.imageTexts, sub.textImage),
        ...(ms === null ? {} : { rerank_itm: rerank(ms, { kind: 'itm' }), rerank_combined: rerank(ms, { kind: 'combined', weight: o.itmWeight }) }),
        ...(ms === null || o.itmWeightSweep === undefined ? {} : { rerank_combined_sweep: o.itmWeightSweep.map((weight) => ({ weight, recall: rerank(ms, { kind: 'combined', weight }) })) }),
        ...(ms === null || o.confusions !== true ? {} : confusionsOf(sub, orders, ms, o.k))
      }
    })
  )
}
