/**
 * Two-stage retrieval against a gallery index (spec section 7): the global score over
 * the whole gallery picks `candidates` (the store's search: exact, or through its ANN
 * index); those get the stage-1 score `score_global + score_local` from the compiled
 * `scores` graph; the best `rerank` of them are re-ranked with the ITM head under
 * `joint` guidance. Text to image, and image to text.
 * @since 0.1.0
 */
import { join } from 'node:path'
import * as E from 'fp-ts/lib/Either.js'
import * as TE from 'fp-ts/lib/TaskEither.js'
import { pipe } from 'fp-ts/lib/function.js'
import type { CmgaError } from '../../compiler/errors.js'
import { cmgaError } from '../../compiler/errors.js'
import type { HostTensor } from '../../compiler/ir/tensor.js'
import { selectScoredTexts } from '../cmga/features.js'
import type { Candidate, Ranked, RerankRule } from '../cmga/rank.js'
import { byScore, dotRows, topIndices } from '../cmga/rank.js'
import type { RerankGuidance, Runtime, Scores } from '../cmga/runtime.js'
import { stage1 } from '../cmga/runtime.js'
import { loadImage, loadImages } from '../../runtime/images/index.js'
import type { Gallery } from './gallery.js'
import type { Search } from './store/store.js'
import { defaultAnnSearch } from './store/store.js'

// -------------------------------------------------------------------------------------
// model
// -------------------------------------------------------------------------------------

/** How much of the gallery each stage sees. */
export interface RetrieveOptions {
  /** Results returned (default 10). */
  readonly top: number
  /** Candidates given the stage-1 score, chosen by the global score (default 128). */
  readonly candidates: number
  /** Candidates re-ranked with ITM (default 16; 0 for none). */
  readonly rerank: number
  readonly rule: RerankRule
  /** The visual tokens the ITM head reads (default `joint`, the spec's). */
  readonly rerankGuidance?: RerankGuidance
  /** How the image store finds candidates (default: through its ANN index when it has one, else exact). */
  readonly search?: Search
}

/** One result: a gallery entry and its scores. */
export interface Hit {
  readonly rank: number
  /** The image path (relative to the index's root) or the text. */
  readonly item: string
  /** Its position in the gallery. */
  readonly index: number
  readonly global: number
  readonly local: number
  readonly stage1: number
  /** ITM match probability and log-odds, for re-ranked entries. */
  readonly itm?: { readonly probability: number; readonly logOdds: number }
  /** What the result is ordered by. */
  readonly score: number
}

/** A query's results. */
export interface Retrieval {
  readonly query: { readonly text: string } | { readonly image: string }
  readonly hits: readonly Hit[]
}

/** Default options. */
export const defaultRetrieveOptions: RetrieveOptions = { top: 10, candidates: 128, rerank: 16, rule: { kind: 'combined', weight: 0.1 } }

// -------------------------------------------------------------------------------------
// helpers
// -------------------------------------------------------------------------------------

/** Stage-1 candidates: the `n` best by global score, given the stage-1 score by `scoresOf`. */
const stageOne = (n: number, count: number, globalOf: (i: number) => number): number[] =>
  topIndices(Float64Array.from({ length: n }, (_, i) => globalOf(i)), count)

const hits = (ranked: readonly Ranked[], chosen: readonly number[], s: Scores, at: (c: number) => [number, number], name: (g: number) => string, top: number): Hit[] =>
  ranked.slice(0, top).map((r, k) => {
    const [i, j] = at(r.index)
    return {
      rank: k + 1,
      item: name(chosen[r.index]),
      index: chosen[r.index],
      global: s.global[i * s.texts + j],
      local: s.local[i * s.texts + j],
      stage1: r.stage1,
      ...(r.match === undefined ? {} : { itm: { probability: r.match.probability, logOdds: r.match.logOdds } }),
      score: r.score
    }
  })

// -------------------------------------------------------------------------------------
// retrieval
// -------------------------------------------------------------------------------------

/** Images of the gallery for a text query. */
export const retrieveImages = (rt: Runtime, g: Gallery, query: string, o: RetrieveOptions): TE.TaskEither<CmgaError, Retrieval> => {
  const images = g.images
  if (images === null) return TE.left(cmgaError('input', `index ${g.path} holds no images (it was built without --images)`))
  const search = o.search ?? (images.hasAnn ? defaultAnnSearch : { kind: 'exact' })
  return pipe(
    rt.encodeTexts([query]),
    TE.bindTo('text'),
    TE.bind('chosen', ({ text }) => images.candidates(text.global.data.subarray(0, rt.config.align.embedDim), o.candidates, search)),
    TE.bind('taken', ({ chosen }) => images.take(chosen)),
    TE.bind('scores', ({ text, taken }) => rt.score(taken.features, text)),
    TE.let('ranked', ({ chosen, scores }): Candidate[] => byScore(chosen.map((_, c) => ({ index: c, score: stage1(scores, c, 0) })))),
    TE.bind('reranked', ({ text, ranked, taken }) => {
      const k = Math.min(o.rerank, ranked.length)
      if (k === 0) return TE.right(ranked.map((c): Ranked => ({ index: c.index, stage1: c.score, score: c.score })))
      return pipe(
        () => loadImages(ranked.slice(0, k).map((c) => join(images.root, taken.names[c.index])), rt.config.vision.imageSize, { onError: 'fail' }),
        TE.chain((px) => {
          // Re-ranked images are loaded in stage-1 order: local image p is candidate p.
          const local = ranked.map((c, p) => ({ index: p, score: c.score }))
          return rt.rerank({ pixels: px.pixels, texts: text, queries: [{ text: 0, candidates: local }], k, rule: o.rule, guidance: o.rerankGuidance })
        }),
        TE.map(([r]) => r.map((x) => ({ ...x, index: ranked[x.index].index })))
      )
    }),
    TE.map(({ chosen, scores, reranked, taken }) => ({
      query: { text: query },
      hits: hits(reranked, chosen, scores, (c) => [c, 0], (gi) => taken.names[chosen.indexOf(gi)], o.top)
    }))
  )
}

/** Texts of the gallery for an image query (an image file). */
export const retrieveTexts = (rt: Runtime, g: Gallery, imagePath: string, o: RetrieveOptions): TE.TaskEither<CmgaError, Retrieval> => {
  const texts = g.texts
  if (texts === null) return TE.left(cmgaError('input', `index ${g.path} holds no texts (build it with --texts to retrieve texts for an image)`))
  const E_ = rt.config.align.embedDim
  return pipe(
    () => loadImage(imagePath, rt.config.vision.imageSize),
    TE.map((px): HostTensor<'float32'> => ({ ...px, shape: [1, ...px.shape] })),
    TE.bindTo('pixels'),
    TE.bind('image', ({ pixels }) => rt.encodeImages(pixels)),
    TE.let('chosen', ({ image }) => stageOne(texts.texts.length, o.candidates, (j) => dotRows(image.global.data, 0, texts.features.global.data, j, E_))),
    TE.bind('scores', ({ image, chosen }) =>
      rt.score(image, selectScoredTexts(texts.features, chosen))
    ),
    TE.let('ranked', ({ chosen, scores }): Candidate[] => byScore(chosen.map((_, c) => ({ index: c, score: stage1(scores, 0, c) })))),
    TE.bind('reranked', ({ pixels, ranked }) => {
      const k = Math.min(o.rerank, ranked.length)
      if (k === 0) return TE.right(ranked.map((c): Ranked => ({ index: c.index, stage1: c.score, score: c.score })))
      // The relation module needs text_embeds, which an index does not store: the k texts are encoded again.
      return pipe(
        rt.encodeTexts(ranked.slice(0, k).map((c) => texts.texts[c.index])),
        TE.chain((tf) => rt.rerank({ pixels, texts: tf, queries: [{ image: 0, candidates: ranked.map((c, p) => ({ index: p, score: c.score })) }], k, rule: o.rule, guidance: o.rerankGuidance })),
        TE.map(([r]) => r.map((x) => ({ ...x, index: ranked[x.index].index })))
      )
    }),
    TE.map(({ chosen, scores, reranked }) => ({ query: { image: imagePath }, hits: hits(reranked, chosen, scores, (c) => [0, c], (gj) => texts.texts[gj], o.top) }))
  )
}

/** Checks retrieval options; --k above --candidates re-ranks every candidate (as `eval retrieval` does). */
export const checkRetrieveOptions = (o: RetrieveOptions): E.Either<CmgaError, RetrieveOptions> =>
  o.top < 1 || o.candidates < 1 ? E.left(cmgaError('usage', '--top and --candidates must be at least 1')) : E.right({ ...o, rerank: Math.min(o.rerank, o.candidates) })