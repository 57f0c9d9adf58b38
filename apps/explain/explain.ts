/**
 * What `cmga explain` shows, as data: for one image and one text, which patches each
 * compression layer keeps under `image` and under `joint` guidance, the token-level
 * similarity (spec section 7) between every text token and every final visual token,
 * and the global score, local score and ITM match probability.
 * @since 0.1.0
 */
import * as E from 'fp-ts/lib/Either.js'
import * as TE from 'fp-ts/lib/TaskEither.js'
import { pipe } from 'fp-ts/lib/function.js'
import type { CmgaError } from '../../compiler/errors.js'
import { fail } from '../../compiler/errors.js'
import type { HostTensor } from '../../compiler/ir/tensor.js'
import { toNumbers } from '../../compiler/ir/tensor.js'
import { numPatches } from '../../models/cmga/config.js'
import type { CmgaModel } from '../cmga/model.js'
import { checkPixels, checkText } from '../cmga/validate.js'
import type { CompressionStep, Cover, LayerPatches } from './patches.js'
import { tracePatches } from './patches.js'
import { matchOf } from '../cmga/rank.js'

// -------------------------------------------------------------------------------------
// model
// -------------------------------------------------------------------------------------

/** One image and one text, ready for the model. */
export interface ExplainInput {
  /** float32 [1, 3, S, S], normalized (spec section 8). */
  readonly pixels: HostTensor<'float32'>
  /** int64 [1, L] each: [CLS] text [SEP]. */
  readonly ids: HostTensor<'int64'>
  readonly mask: HostTensor<'int64'>
  /** The token string of each of the L ids (from the tokenizer). */
  readonly tokens: readonly string[]
}

/** The three scores of the pair. */
export interface PairScores {
  /** `score_global`: image [CLS] feature . text [CLS] feature. */
  readonly global: number
  /** `score_local`: the token-level (FILIP) score. */
  readonly local: number
  /** ITM match probability, `softmax(itm_logits)[1]`, under `joint` guidance. */
  readonly itm: number
}

/** Everything `cmga explain` draws. */
export interface Explanation {
  readonly imageSize: number
  readonly patchSize: number
  /** Patches per side (S / P); patch p is at row floor(p / grid), column p % grid. */
  readonly grid: number
  /** Per compression layer, what each guidance mode keeps. */
  readonly image: readonly LayerPatches[]
  readonly joint: readonly LayerPatches[]
  /** The similarity rows: text tokens 1..L-1 that are not padding ([SEP] included). */
  readonly words: readonly string[]
  /** The similarity columns: the final visual tokens under `image` guidance (kept tokens, then the fused one). */
  readonly visual: readonly Cover[]
  /** `similarity[r][k] = t[r] . v[k]` (spec section 7, `S`). */
  readonly similarity: readonly (readonly number[])[]
  readonly scores: PairScores
}

// -------------------------------------------------------------------------------------
// reading the stages' outputs
// -------------------------------------------------------------------------------------

/** A stage's results: what its contract names, and per compression layer `keep.{layer}` and `guide.{layer}`. */
type Outputs = Readonly<Record<string, HostTensor | undefined>>

/** Row 0 of a per-layer output. */
const firstRow = (o: Outputs, stage: string, name: string, hint = ''): E.Either<CmgaError, number[]> => {
  const t = o[name]
  return t === undefined ? fail('input', `stage ${stage} has no output "${name}"${hint}`) : E.right(Array.from(toNumbers(t).slice(0, t.shape[1])))
}

/** The compression steps of image 0 from a vision stage's `keep.{layer}` and `guide.{layer}`. */
const stepsOf = (o: Outputs, stage: string, layers: readonly number[]): E.Either<CmgaError, CompressionStep[]> => {
  const old = ' (this model directory predates it: compile it again with this version of cmga)'
  const steps: CompressionStep[] = []
  for (const layer of layers) {
    const keep = firstRow(o, stage, `keep.${layer}`)
    const scores = firstRow(o, stage, `guide.${layer}`, old)
    if (E.isLeft(keep)) return keep
    if (E.isLeft(scores)) return scores
    steps.push({ layer, keep: keep.right, scores: scores.right })
  }
  return E.right(steps)
}

/** Tokens after the last layer: what a trace ends with (every patch alone without compression). */
const finalTokens = (trace: readonly LayerPatches[], patches: number): Cover[] => {
  const last = trace[trace.length - 1]
  return last === undefined ? Array.from({ length: patches }, (_, p) => ({ patches: [p], weights: [1] })) : [...last.kept, last.fused]
}

/** `S[r][k] = t[r] . v[k]` over the valid text tokens. */
const similarityOf = (t: HostTensor, v: HostTensor, mask: Float64Array): { rows: number[]; S: number[][] } => {
  const [tt, vv] = [toNumbers(t), toNumbers(v)]
  const [, Lm1, Et] = t.shape
  const [, Tv] = v.shape
  const rows = Array.from({ length: Lm1 }, (_, r) => r).filter((r) => mask[r + 1] === 1)
  const S = rows.map((r) => Array.from({ length: Tv }, (_, k) => {
    let dot = 0
    for (let e = 0; e < Et; e++) dot += tt[r * Et + e] * vv[k * Et + e]
    return dot
  }))
  return { rows, S }
}

// -------------------------------------------------------------------------------------
// explaining
// -------------------------------------------------------------------------------------

/** Checks that the input is one image and one text that fit the model (shapes, dtypes, ids, mask). */
const checkInput = (m: CmgaModel, x: ExplainInput): E.Either<CmgaError, ExplainInput> => {
  const feeds = new Map<string, HostTensor>([['pixels', x.pixels], ['input_ids', x.ids], ['attention_mask', x.mask]])
  return pipe(
    checkPixels(m.manifest.config, feeds, 'explain'),
    E.chain(() => checkText(m.manifest.config, feeds, 'explain')),
    E.chain(() =>
      x.pixels.shape[0] !== 1 || x.ids.shape[0] !== 1
        ? fail<ExplainInput>('input', `explain: one image and one text, got ${x.pixels.shape[0]} and ${x.ids.shape[0]}`)
        : x.ids.shape[1] < 2
          ? fail<ExplainInput>('input', 'explain: the text has no tokens besides [CLS]')
          : x.tokens.length !== x.ids.shape[1]
            ? fail<ExplainInput>('input', `explain: ${x.tokens.length} token strings for ${x.ids.shape[1]} ids`)
            : E.right(x)
    )
  )
}

/** Runs every stage the picture needs on one image-text pair and collects what it shows. */
export const explainPair = (m: CmgaModel, x: ExplainInput): TE.TaskEither<CmgaError, Explanation> => {
  const c = m.manifest.config
  const layers = c.compression.layers
  const N = numPatches(c)
  const { pixels, ids, mask } = x
  return pipe(
    TE.fromEither(checkInput(m, x)),
    TE.chain(() => m.run('text', { input_ids: ids, attention_mask: mask })),
    TE.bindTo('text'),
    TE.bind('image', () => m.run('vision_image', { pixels })),
    TE.bind('joint', ({ text }) => m.run('vision_joint', { pixels, text_cls: text.text_cls })),
    TE.bind('relation', ({ text, joint }) => m.run('relation', { text_embeds: text.text_embeds, attention_mask: mask, vision_embeds: joint.vision_embeds })),
    TE.bind('scores', ({ text, image }) =>
      m.run('scores', { itc_image: image.itc_image, image_tokens: image.image_tokens, itc_text: text.itc_text, text_tokens: text.text_tokens, attention_mask: mask })
    ),
    TE.chainEitherK(({ text, image, joint, relation, scores }) =>
      pipe(
        E.Do,
        E.bind('imageTrace', () => E.chain((s: CompressionStep[]) => tracePatches(N, s))(stepsOf(image, 'vision_image', layers))),
        E.bind('jointTrace', () => E.chain((s: CompressionStep[]) => tracePatches(N, s))(stepsOf(joint, 'vision_joint', layers))),
        E.chain(({ imageTrace, jointTrace }) => {
          const visual = finalTokens(imageTrace, N)
          const v = image.image_tokens
          if (v.shape[1] !== visual.length) return fail<Explanation>('input', `vision_image: image_tokens has ${v.shape[1]} tokens, expected ${visual.length}`)
          const [global, local, itm] = [scores.score_global, scores.score_local, relation.itm_logits].map(toNumbers)
          const { rows, S } = similarityOf(text.text_tokens, v, toNumbers(mask))
          return E.right({
            imageSize: c.vision.imageSize,
            patchSize: c.vision.patchSize,
            grid: c.vision.imageSize / c.vision.patchSize,
            image: imageTrace,
            joint: jointTrace,
            words: rows.map((r) => x.tokens[r + 1]),
            visual,
            similarity: S,
            scores: { global: global[0], local: local[0], itm: matchOf(itm[0], itm[1]).probability }
          })
        })
      )
    )
  )
}
