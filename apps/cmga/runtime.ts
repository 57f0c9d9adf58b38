/**
 * The typed runtime API over a compiled model directory: encode images and texts,
 * score them (spec section 7), re-rank with the ITM head under `joint` guidance, and
 * answer with the VQA head when the model has one.
 *
 * Every call splits its work into runs of `batchSize` rows in a fixed way that depends
 * only on its arguments, so a call gives the same bits on the in-process engine and on
 * the worker pool, alone or beside concurrent callers.
 *
 * Stages are run through their contract (`models/cmga/stages.ts`), checked once when
 * the runtime opens, so every output read here is there with its dtype.
 *
 * Prefix cache: when the model has `vision_prefix` (pixels -> the text-independent
 * value `vision_prefix`, batch on dim 0) and `vision_joint_suffix` (that value and
 * `text_cls` -> `vision_embeds`), re-ranking runs the prefix once per distinct image
 * of a request and the suffix per pair; otherwise it runs `vision_joint` per pair.
 * @since 0.1.0
 */
import { availableParallelism } from 'node:os'
import * as E from 'fp-ts/lib/Either.js'
import * as TE from 'fp-ts/lib/TaskEither.js'
import { pipe } from 'fp-ts/lib/function.js'
import type { CmgaError } from '../../compiler/errors.js'
import { cmgaError, fail } from '../../compiler/errors.js'
import type { HostTensor } from '../../compiler/ir/tensor.js'
import type { CmgaConfig } from '../../models/cmga/config.js'
import type { CmgaStage } from '../../models/cmga/stages.js'
import { cmgaStages } from '../../models/cmga/stages.js'
import type { Results } from '../../runtime/model/contract.js'
import { contractRunner } from '../../runtime/model/contract.js'
import type { Device } from '../../runtime/device.js'
import type { BertTokenizer } from '../../runtime/text/tokenizer.js'
import { modelTokenizer } from './vocabulary.js'
import { workerEngine } from '../../runtime/workers/pool.js'
import type { Engine } from '../../runtime/model/engine.js'
import { localEngine } from '../../runtime/model/engine.js'
import type { ImageFeatures, TextFeatures } from './features.js'
import type { RankingDefaults } from '../../runtime/model/manifest.js'
import type { ModelIdentity } from '../../runtime/model/fingerprint.js'
import { modelIdentity } from '../../runtime/model/fingerprint.js'
import type { Candidate, Match, Ranked, RerankRule } from './rank.js'
import { matchOf, rerankTop } from './rank.js'
import { concatRows, sliceRows, takeRows } from '../../runtime/model/rows.js'
import type { CmgaManifest } from './model.js'
import { cmgaManifest } from './model.js'

// -------------------------------------------------------------------------------------
// model
// -------------------------------------------------------------------------------------

/** Options of `openRuntime`. */
export interface RuntimeOptions {
  /** `vocab.txt`, `tokenizer.json` or a folder with one (default: the model directory). */
  readonly vocab?: string
  /** Where a warning line goes (a vocabulary much smaller than the model's). */
  readonly warn?: (line: string) => void
  /** Tokens per text, [CLS] and [SEP] included (default min(30, text.maxPositions), as ALBEF). */
  readonly maxLength?: number
  /** 0 runs onnxruntime on this thread; n >= 1 on n worker threads (default 0). */
  readonly workers?: number
  /** onnxruntime intra-op threads, per worker (default 2 in-process; with workers, the cores shared among them). */
  readonly threads?: number
  /** Rows per stage run (default 8). */
  readonly batchSize?: number
  /** Where onnxruntime runs (default 'cpu'); checked before anything starts. */
  readonly device?: Device
  /** Whether idle onnxruntime threads spin (default false; see `threadOptions` in runtime/session.ts). */
  readonly spinning?: boolean
}

/** Global and local scores of every image against every text, [images, texts] row-major. */
export interface Scores {
  readonly images: number
  readonly texts: number
  readonly global: Float32Array
  readonly local: Float32Array
}

/** One re-ranking query: a text against candidate images, or an image against candidate texts. */
export type RerankQuery =
  | { readonly text: number; readonly candidates: readonly Candidate[] }
  | { readonly image: number; readonly candidates: readonly Candidate[] }

/** What `rerank` needs: the images and texts that queries and candidates index into. */
export interface RerankRequest {
  /** float32 [Ni, 3, S, S], preprocessed (spec section 8). */
  readonly pixels: HostTensor<'float32'>
  readonly texts: TextFeatures
  /** Each query's candidates in stage-1 order, best first. */
  readonly queries: readonly RerankQuery[]
  /** How many of each query's first candidates to re-rank. */
  readonly k: number
  readonly rule: RerankRule
  /** The visual tokens the ITM head reads (default `joint`; see `RerankGuidance`). */
  readonly guidance?: RerankGuidance
}

/**
 * The visual tokens the relation module reads when re-ranking: `joint` (the spec's stage
 * 2) runs the vision encoder again for every pair, its compression guided by the pair's
 * text; `image` reads each image's text-agnostic tokens (`image` guidance, the tokens
 * stage 1 already has), so a pair costs only the relation module: far cheaper, and an
 * approximation of the spec's verdict whose recall `cmga eval retrieval` measures.
 */
export type RerankGuidance = 'joint' | 'image'

/** @since 0.1.0 */
export interface Runtime {
  readonly config: CmgaConfig
  readonly tokenizer: BertTokenizer
  readonly identity: ModelIdentity
  readonly engine: Engine
  readonly batchSize: number
  /** Whether re-ranking uses a compiled prefix cache. */
  readonly hasPrefixCache: boolean
  /** Whether the model has the VQA head. */
  readonly hasVqa: boolean
  /** How the model is ranked with unless told otherwise (the manifest's `ranking`, from `cmga compile --serve-k`). */
  readonly ranking?: RankingDefaults
  /** Text-agnostic (`image` guidance) features of preprocessed images [B, 3, S, S]. */
  readonly encodeImages: (pixels: HostTensor<'float32'>) => TE.TaskEither<CmgaError, ImageFeatures>
  /** Tokenizes (padding to the longest text) and encodes texts. */
  readonly encodeTexts: (texts: readonly string[]) => TE.TaskEither<CmgaError, TextFeatures>
  /** `score_global` and `score_local` of every image against every text. */
  readonly score: (images: ImageFeatures, texts: ScoredTexts) => TE.TaskEither<CmgaError, Scores>
  /** The ITM verdict on pairs [image index, text index], the relation module reading `guidance`'s visual tokens (default `joint`). */
  readonly match: (pixels: HostTensor<'float32'>, texts: TextFeatures, pairs: readonly (readonly [number, number])[], guidance?: RerankGuidance) => TE.TaskEither<CmgaError, Match[]>
  /** The ITM verdicts on each query's first k candidates (computed once, for any rule). */
  readonly matchQueries: (req: Omit<RerankRequest, 'rule'>) => TE.TaskEither<CmgaError, Match[][]>
  /** Re-ranks each query's top k by the rule; one ranked list per query. */
  readonly rerank: (req: RerankRequest) => TE.TaskEither<CmgaError, Ranked[][]>
  /** `vqa_logits` [B, numAnswers] for pairs (image b, text b); an error when the model has no VQA head. */
  readonly vqa: (pixels: HostTensor<'float32'>, texts: TextFeatures) => TE.TaskEither<CmgaError, HostTensor<'float32'>>
  readonly close: () => Promise<void>
}

/**
 * The stages the worker pool merges waiting requests of: each row is computed
 * independently of the others in the batch, bit for bit (checked in
 * `test/runtime-workers.test.ts`). The vision stages are not: onnxruntime's results for
 * one image there depend on its position in the batch.
 */
export const MERGEABLE_STAGES: readonly CmgaStage[] = ['text', 'relation']

/** What scoring needs of text features (a gallery index stores just these). */
export type ScoredTexts = Pick<TextFeatures, 'global' | 'tokens' | 'mask'>

/** `score_global + score_local` of image i and text j: the stage-1 score. */
export const stage1 = (s: Scores, i: number, j: number): number => s.global[i * s.texts + j] + s.local[i * s.texts + j]

// -------------------------------------------------------------------------------------
// helpers
// -------------------------------------------------------------------------------------

type RelationResults = Results<(typeof cmgaStages)['relation']>

/** Runs `f` on `[from, to)` chunks of `n` rows, at most `limit` at once, results in order. */
const chunked = <A>(n: number, size: number, limit: number, f: (from: number, to: number) => TE.TaskEither<CmgaError, A>): TE.TaskEither<CmgaError, A[]> => {
  const ranges = Array.from({ length: Math.ceil(n / size) }, (_, c) => [c * size, Math.min(n, (c + 1) * size)] as const)
  return async () => {
    const out = new Array<A>(ranges.length)
    let next = 0
    let failed: CmgaError | null = null
    const lane = async (): Promise<void> => {
      while (next < ranges.length && failed === null) {
        const c = next++
        const r = await f(...ranges[c])()
        if (E.isLeft(r)) failed ??= r.left
        else out[c] = r.right
      }
    }
    await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, ranges.length)) }, lane))
    return failed === null ? E.right(out) : E.left(failed)
  }
}

const checkPixels = (c: CmgaConfig, t: HostTensor): E.Either<CmgaError, HostTensor<'float32'>> => {
  const S = c.vision.imageSize
  const ok = t.dtype === 'float32' && t.shape.length === 4 && t.shape[1] === 3 && t.shape[2] === S && t.shape[3] === S
  if (!ok) return fail('input', `pixels must be float32 [B, 3, ${S}, ${S}], got ${t.dtype} [${t.shape.join(', ')}]`)
  return t.shape[0] > 0 ? E.right(t as HostTensor<'float32'>) : fail('input', 'no images to encode')
}

// -------------------------------------------------------------------------------------
// constructors
// -------------------------------------------------------------------------------------

/** A runtime over an engine, the model's config and a tokenizer (see `openRuntime`). */
export const makeRuntime = (engine: Engine, manifest: CmgaManifest, tokenizer: BertTokenizer, identity: ModelIdentity, batchSize: number, parallel: number): Runtime => {
  const c = manifest.config
  const B = batchSize
  const { run, has } = contractRunner(engine, cmgaStages)
  const hasPrefixCache = has('vision_prefix') && has('vision_joint_suffix')

  const encodeImages = (pixels: HostTensor<'float32'>): TE.TaskEither<CmgaError, ImageFeatures> =>
    pipe(
      TE.fromEither(checkPixels(c, pixels)),
      TE.chain((px) => chunked(px.shape[0], B, parallel, (a, b) => run('vision_image', { pixels: sliceRows(px, a, b) }))),
      TE.map((os) => ({ global: concatRows(os.map((o) => o.itc_image)), tokens: concatRows(os.map((o) => o.image_tokens)) }))
    )

  const encodeTexts = (texts: readonly string[]): TE.TaskEither<CmgaError, TextFeatures> => {
    if (texts.length === 0) return TE.left(cmgaError('input', 'no texts to encode'))
    const enc = tokenizer.encode(texts)
    return pipe(
      chunked(texts.length, B, parallel, (a, b) => run('text', { input_ids: sliceRows(enc.ids, a, b), attention_mask: sliceRows(enc.mask, a, b) })),
      TE.map((os) => {
        const cat = (name: 'itc_text' | 'text_tokens' | 'text_embeds' | 'text_cls'): HostTensor<'float32'> => concatRows(os.map((o) => o[name]))
        return { texts, words: enc.tokens, ids: enc.ids, mask: enc.mask, global: cat('itc_text'), tokens: cat('text_tokens'), embeds: cat('text_embeds'), cls: cat('text_cls') }
      })
    )
  }

  const block = 4 * B
  const score = (images: ImageFeatures, texts: ScoredTexts): TE.TaskEither<CmgaError, Scores> => {
    const Ni = images.global.shape[0]
    const Nt = texts.global.shape[0]
    const tb = Math.ceil(Nt / block)
    return pipe(
      chunked(Math.ceil(Ni / block) * tb, 1, parallel, (k) => {
        const [i0, j0] = [Math.floor(k / tb) * block, (k % tb) * block]
        const [i1, j1] = [Math.min(Ni, i0 + block), Math.min(Nt, j0 + block)]
        return run('scores', {
          itc_image: sliceRows(images.global, i0, i1),
          image_tokens: sliceRows(images.tokens, i0, i1),
          itc_text: sliceRows(texts.global, j0, j1),
          text_tokens: sliceRows(texts.tokens, j0, j1),
          attention_mask: sliceRows(texts.mask, j0, j1)
        })
      }),
      TE.map((os) => {
        const g = new Float32Array(Ni * Nt)
        const l = new Float32Array(Ni * Nt)
        os.forEach((o, k) => {
          const [i0, j0] = [Math.floor(k / tb) * block, (k % tb) * block]
          const [og, ol] = [o.score_global, o.score_local]
          const [bi, bt] = og.shape
          for (let i = 0; i < bi; i++) {
            for (let j = 0; j < bt; j++) {
              g[(i0 + i) * Nt + j0 + j] = og.data[i * bt + j]
              l[(i0 + i) * Nt + j0 + j] = ol.data[i * bt + j]
            }
          }
        })
        return { images: Ni, texts: Nt, global: g, local: l }
      })
    )
  }

  /**
   * Pairs per suffix and relation run: twice the batch, as larger products run faster
   * (base on a shared 2-core AMD EPYC, ms per pair for suffix + relation: float32 547 at
   * 8 pairs, 463 at 16; int8 335 at 8, 275 at 16).
   */
  const pairBatch = 2 * B

  /** Vision tokens (joint-guided per pair, or each image's text-agnostic ones) and the relation module on pairs, `pairBatch` at a time; chunks never span `groups`. */
  const relation = (pixels: HostTensor<'float32'>, texts: TextFeatures, pairs: readonly (readonly [number, number])[], groups: readonly number[], guidance: RerankGuidance = 'joint'): TE.TaskEither<CmgaError, RelationResults[]> => {
    const ranges: (readonly [number, number])[] = []
    let from = 0
    for (const n of groups) {
      for (let a = 0; a < n; a += pairBatch) ranges.push([from + a, from + Math.min(n, a + pairBatch)])
      from += n
    }
    const distinct = [...new Set(pairs.map((p) => p[0]))]
    const row = new Map(distinct.map((i, r) => [i, r]))
    // per distinct image, once: its text-agnostic tokens (image guidance), else the joint encoder's prefix when compiled
    const perImage: TE.TaskEither<CmgaError, HostTensor<'float32'> | null> =
      guidance === 'image'
        ? pipe(
            chunked(distinct.length, B, parallel, (a, b) => run('vision_image', { pixels: takeRows(pixels, distinct.slice(a, b)) })),
            TE.map((os) => concatRows(os.map((o) => o.vision_embeds)))
          )
        : !hasPrefixCache
          ? TE.right(null)
          : pipe(
              chunked(distinct.length, B, parallel, (a, b) => run('vision_prefix', { pixels: takeRows(pixels, distinct.slice(a, b)) })),
              TE.map((os) => concatRows(os.map((o) => o.vision_prefix)))
            )
    return pipe(
      TE.fromEither(checkPixels(c, pixels)),
      TE.chain(() => perImage),
      TE.chain((pre) =>
        chunked(ranges.length, 1, parallel, (r) => {
          const chunk = pairs.slice(...ranges[r])
          const imgs = chunk.map((p) => p[0])
          const txts = chunk.map((p) => p[1])
          const rows = imgs.map((i) => row.get(i) as number)
          const vision: TE.TaskEither<CmgaError, { readonly vision_embeds: HostTensor<'float32'> }> =
            pre === null
              ? run('vision_joint', { pixels: takeRows(pixels, imgs), text_cls: takeRows(texts.cls, txts) })
              : guidance === 'image'
                ? TE.right({ vision_embeds: takeRows(pre, rows) })
                : run('vision_joint_suffix', { text_cls: takeRows(texts.cls, txts), vision_prefix: takeRows(pre, rows) })
          return pipe(
            vision,
            TE.chain((v) => run('relation', { text_embeds: takeRows(texts.embeds, txts), attention_mask: takeRows(texts.mask, txts), vision_embeds: v.vision_embeds }))
          )
        })
      )
    )
  }

  const match = (pixels: HostTensor<'float32'>, texts: TextFeatures, pairs: readonly (readonly [number, number])[], guidance: RerankGuidance = 'joint'): TE.TaskEither<CmgaError, Match[]> =>
    pairs.length === 0
      ? TE.right([])
      : pipe(
          relation(pixels, texts, pairs, [pairs.length], guidance),
          TE.map((os) => os.flatMap((o) => { const l = o.itm_logits.data; return Array.from({ length: l.length / 2 }, (_, p) => matchOf(l[2 * p], l[2 * p + 1])) }))
        )

  const matchQueries = (req: Omit<RerankRequest, 'rule'>): TE.TaskEither<CmgaError, Match[][]> => {
    const tops = req.queries.map((q) => q.candidates.slice(0, Math.max(0, req.k)))
    const pairs = req.queries.flatMap((q, n) => tops[n].map((cand): readonly [number, number] => ('text' in q ? [cand.index, q.text] : [q.image, cand.index])))
    if (pairs.length === 0) return TE.right(req.queries.map(() => []))
    return pipe(
      relation(req.pixels, req.texts, pairs, tops.map((t) => t.length), req.guidance),
      TE.map((os) => {
        const logits = os.flatMap((o) => Array.from(o.itm_logits.data))
        let at = 0
        return tops.map((top) => {
          const ms = top.map((_, p) => matchOf(logits[2 * (at + p)], logits[2 * (at + p) + 1]))
          at += top.length
          return ms
        })
      })
    )
  }

  const rerank = (req: RerankRequest): TE.TaskEither<CmgaError, Ranked[][]> =>
    TE.map((ms: Match[][]) => req.queries.map((q, n) => rerankTop(q.candidates, ms[n], req.k, req.rule)))(matchQueries(req))

  const hasVqa = manifest.stages.relation.outputs.some((o) => o.name === 'vqa_logits')
  const vqa = (pixels: HostTensor<'float32'>, texts: TextFeatures): TE.TaskEither<CmgaError, HostTensor<'float32'>> => {
    if (!hasVqa) return TE.left(cmgaError('input', `model ${engine.dir} has no VQA head (its config has no "vqa" section)`))
    const n = pixels.shape[0]
    if (n !== texts.texts.length) return TE.left(cmgaError('input', `vqa: ${n} images but ${texts.texts.length} questions; pair b is image b with question b`))
    const pairs = Array.from({ length: n }, (_, b) => [b, b] as const)
    return TE.chainEitherK((os: RelationResults[]) => {
      const logits = os.flatMap((o) => (o.vqa_logits === undefined ? [] : [o.vqa_logits]))
      return logits.length === os.length ? E.right(concatRows(logits)) : fail<HostTensor<'float32'>>('runtime', 'stage relation gave no "vqa_logits"')
    })(relation(pixels, texts, pairs, [n]))
  }

  return { config: c, tokenizer, identity, engine, batchSize, hasPrefixCache, hasVqa, ...(manifest.ranking === undefined ? {} : { ranking: manifest.ranking }), encodeImages, encodeTexts, score, match, matchQueries, rerank, vqa, close: engine.close }
}

/** Opens a compiled model directory with its tokenizer, on this thread or on worker threads. */
export const openRuntime = (dir: string, opts: RuntimeOptions = {}): E.Either<CmgaError, Runtime> => {
  const workers = opts.workers ?? 0
  const batchSize = opts.batchSize ?? 8
  if (!Number.isInteger(batchSize) || batchSize < 1) return fail('usage', `batch size must be a positive integer, got ${batchSize}`)
  const device = opts.device ?? 'cpu'
  const engine =
    workers === 0
      ? localEngine(dir, { threads: opts.threads ?? 2, device, spinning: opts.spinning === true })
      : workerEngine(dir, { workers, device, spinning: opts.spinning === true, merge: MERGEABLE_STAGES, threads: opts.threads ?? Math.max(1, Math.floor(availableParallelism() / workers)) })
  if (E.isLeft(engine)) return engine
  const parts = pipe(
    cmgaManifest(dir, engine.right.manifest),
    E.bindTo('manifest'),
    E.let('c', ({ manifest }) => manifest.config),
    E.bind('tokenizer', ({ c }) => modelTokenizer(dir, c.text.vocabSize, opts.vocab, { maxLength: opts.maxLength ?? Math.min(30, c.text.maxPositions), maxPositions: c.text.maxPositions }, opts.warn)),
    E.bind('identity', () => modelIdentity(dir, engine.right.manifest))
  )
  if (E.isLeft(parts)) {
    void engine.right.close()
    return parts
  }
  return E.right(makeRuntime(engine.right, parts.right.manifest, parts.right.tokenizer, parts.right.identity, batchSize, Math.max(1, workers) * 2))
}
