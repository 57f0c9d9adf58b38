/**
 * Spec section 9: the pre-training objectives (ITC, FTC, ITM with deterministic hard
 * negatives, MLM) as one graph over a batch of B matched pairs; each objective also on
 * its own (`contrastiveLosses`, `itmLoss`, `mlmLoss`), and ITM with other negative
 * choices for training (`NegativeChoice`, spec section 9's training note).
 * @since 0.1.0
 */
import type { F32, I64 } from '../../dsl/index.js'
import {
  add, argmax, cast, concat, constant, div, equal, gather, gelu, linear, logSoftmax, maximum, mean, minimum, mul, neg,
  not, oneHot, reshape, slice, stopGradient, sub, sum, where
} from '../../dsl/index.js'
import { fromNumbers } from '../../compiler/ir/tensor.js'
import { globalFeature, globalScore, localScore, tokenFeatures } from './align.js'
import type { CmgaConfig } from './config.js'
import { clsOf, itmHead, relationModule } from './fusion.js'
import { dense, LN, size } from './layers.js'
import type { CmgaParams } from './params.js'
import { textEncoder } from './text.js'
import { gatherPrefix, visionEncoder, visionPrefix, visionSuffix } from './vision.js'

/** The batch: B pairs of L tokens; MLM labels are -100 where no prediction is made. */
export interface Batch {
  readonly pixels: F32
  readonly ids: I64
  readonly mask: I64
  readonly mlmIds: I64
  readonly mlmLabels: I64
}

/** Every loss and the chosen negatives. */
export interface Losses {
  readonly loss: F32
  readonly itc: F32
  readonly ftc: F32
  readonly itm: F32
  readonly mlm: F32
  /** For each text j, the image chosen as its hard negative [B]. */
  readonly negImage: I64
  /** For each image i, the text chosen as its hard negative [B]. */
  readonly negText: I64
}

const eye = (n: number): F32 => constant(fromNumbers('float32', [n, n], Array.from({ length: n * n }, (_, k) => (k % (n + 1) === 0 ? 1 : 0))))

/** Mean cross-entropy of `logits` [N, C] against integer `labels` [N] (rows weighted by `weight`). */
export const crossEntropy = (logits: F32, labels: I64, weight?: F32): F32 => {
  const C = size(logits.shape[1])
  const nll = neg(sum(mul(logSoftmax(logits, 1), oneHot(labels, C)), 1)) // [N]
  return weight === undefined ? mean(nll, 0) : div(sum(mul(nll, weight), 0), maximum(sum(weight, 0), 1))
}

/** `(CE(rows) + CE(columns)) / 2` of a square similarity matrix against its diagonal. */
export const symmetricCE = (sim: F32): F32 => {
  const B = size(sim.shape[0])
  const I = eye(B)
  const rows = neg(mean(sum(mul(logSoftmax(sim, 1), I), 1), 0))
  const cols = neg(mean(sum(mul(logSoftmax(sim, 0), I), 0), 0))
  return mul(add(rows, cols), 0.5)
}

/** The hard negatives: the best-scoring wrong partner along an axis of `score_global` [B, B]. */
const hardNegatives = (score: F32, axis: 0 | 1): I64 => {
  const B = size(score.shape[0])
  return argmax(add(score, mul(eye(B), -1e9)), axis)
}

/**
 * How ITM picks its negatives (spec section 9 and its training note). `hard`: the
 * spec's argmax of `score_global`. The others read noise `itm_noise` [2, B, B] (plane 0
 * for each text's image, plane 1 for each image's text; i.i.d. Gumbel(0, 1) from the
 * data pipeline): `sample` draws each negative with probability softmax(score_global /
 * temperature) without the positive (the Gumbel-max trick, computed as
 * argmax(score + temperature * noise), the same argmax without dividing by a small
 * temperature); `random` is uniform over the others (argmax of the noise alone);
 * `mixed` is random for the first floor(B/2) texts and images, hard for the rest.
 * `partner` reads `itm_bias` [B, B] from the data pipeline instead and takes
 * argmax(score_global + bias): the pipeline raises the pairs it wants as negatives (a
 * near-miss partner) and sinks those that are not negatives at all (the same caption,
 * or a caption meaning the same scene), so no positive is ever labelled 0.
 */
export type NegativeChoice =
  | { readonly kind: 'hard' }
  | { readonly kind: 'partner' }
  | { readonly kind: 'sample'; readonly temperature: number }
  | { readonly kind: 'random' }
  | { readonly kind: 'mixed' }

/** For each text j an image `negImage[j]` != j, for each image i a text `negText[i]` != i. */
export interface Negatives {
  readonly negImage: I64
  readonly negText: I64
}

/** 1 where the chosen axis index is below floor(B/2), else 0: the random half of `mixed`. */
const firstHalf = (B: number, axis: 0 | 1): F32 =>
  constant(fromNumbers('float32', [B, B], Array.from({ length: B * B }, (_, k) => ((axis === 0 ? Math.floor(k / B) : k % B) < Math.floor(B / 2) ? 1 : 0))))

/** The negatives of `choice` on `score_global` [B, B]; `noise` [2, B, B] (`itm_bias` [B, B] for `partner`) unless `hard`. */
export const chooseNegatives = (score: F32, choice: NegativeChoice, noise?: F32): Negatives => {
  if (choice.kind === 'hard') return { negImage: hardNegatives(score, 0), negText: hardNegatives(score, 1) }
  if (noise === undefined) throw new Error(`ITM negatives "${choice.kind}" need the ${choice.kind === 'partner' ? 'itm_bias' : 'itm_noise'} input`)
  if (choice.kind === 'partner') {
    const key = add(score, noise)
    return { negImage: hardNegatives(key, 0), negText: hardNegatives(key, 1) }
  }
  const B = size(score.shape[0])
  const plane = (k: 0 | 1): F32 => reshape(slice(noise, 0, k, k + 1), [B, B])
  const keyOf = (k: 0 | 1): F32 => {
    const n = plane(k)
    if (choice.kind === 'sample') return add(score, mul(n, choice.temperature))
    if (choice.kind === 'random') return n
    const half = firstHalf(B, k === 0 ? 1 : 0) // texts are columns (plane 0), images rows (plane 1)
    return add(mul(n, half), mul(score, sub(1, half)))
  }
  return { negImage: hardNegatives(keyOf(0), 0), negText: hardNegatives(keyOf(1), 1) }
}

/** ITC and FTC, and the global score ITM's negatives come from. */
export interface Contrastive {
  readonly itc: F32
  readonly ftc: F32
  /** `score_global` [B, B]. */
  readonly score: F32
  /** The text encoder's output on the batch. */
  readonly T: F32
}

/** The clamped temperature of ITC and FTC. */
const temperature = (p: CmgaParams): F32 => minimum(maximum(p.temp, 0.001), 0.5)

/** ITC and FTC: text-agnostic image features against the text features. */
export const contrastiveLosses = (c: CmgaConfig, p: CmgaParams, batch: Pick<Batch, 'pixels' | 'ids' | 'mask'>): Contrastive => {
  const { pixels, ids, mask } = batch
  const temp = temperature(p)
  const T = textEncoder(c, p.text, ids, mask)
  const Vimg = visionEncoder(c, p.vision, pixels, 'image').V
  const sg = globalScore(globalFeature(Vimg, p.visionProj), globalFeature(T, p.textProj))
  const sl = localScore(tokenFeatures(Vimg, p.visionProj), tokenFeatures(T, p.textProj), mask)
  return { itc: symmetricCE(div(sg, temp)), ftc: symmetricCE(div(sl, temp)), score: sg, T }
}

/**
 * ITM: B positives, then for each text j its negative image, then for each image i its
 * negative text. `detach` (a training choice, not the spec's): the text and vision
 * encoders' outputs enter with their gradient stopped, so ITM trains the relation module
 * and the ITM head only.
 */
export const itmLoss = (c: CmgaConfig, p: CmgaParams, batch: Pick<Batch, 'pixels' | 'mask'>, T: F32, neg: Negatives, detach = false): F32 => {
  const { pixels, mask } = batch
  const B = size(pixels.shape[0])
  const arange = constant(fromNumbers('int64', [B], Array.from({ length: B }, (_, i) => i)))
  const imageOf = concat([arange, neg.negImage, arange], 0) // [3B]
  const textOf = concat([arange, arange, neg.negText], 0)
  const Tp = gather(detach ? stopGradient(T) : T, textOf, 0)
  const maskP = gather(mask, textOf, 0)
  // each image's text-independent prefix once (shared with ITC's image-guided encoder), gathered per pair
  const V = visionSuffix(c, p.vision, gatherPrefix(visionPrefix(c, p.vision, pixels), imageOf), 'joint', clsOf(Tp)).V
  const Vj = detach ? stopGradient(V) : V
  const logits = itmHead(relationModule(c, p.text, Tp, maskP, Vj), p.itmHead)
  const labels = constant(fromNumbers('int64', [3 * B], Array.from({ length: 3 * B }, (_, k) => (k < B ? 1 : 0))))
  return crossEntropy(logits, labels)
}

/** MLM: the masked text through the text encoder and the relation module (joint guidance by its own [CLS]). */
export const mlmLoss = (c: CmgaConfig, p: CmgaParams, batch: Pick<Batch, 'pixels' | 'mask' | 'mlmIds' | 'mlmLabels'>): F32 => {
  const { pixels, mask, mlmIds, mlmLabels } = batch
  const B = size(pixels.shape[0])
  const Tm = textEncoder(c, p.text, mlmIds, mask)
  const Vm = visionEncoder(c, p.vision, pixels, 'joint', clsOf(Tm)).V
  const Fm = relationModule(c, p.text, Tm, mask, Vm)
  const h = LN(gelu(dense(Fm, p.mlm.transform)), p.mlm.norm, c.text.eps)
  const vocab = linear(h, p.text.wordEmbeddings, p.mlm.bias) // [B, L, V]
  const L = size(mlmIds.shape[1])
  const targets = not(equal(mlmLabels, -100))
  const flatLabels = reshape(where(targets, mlmLabels, 0), [B * L])
  return crossEntropy(reshape(vocab, [B * L, c.text.vocabSize]), flatLabels, reshape(cast(targets, 'float32'), [B * L]))
}

/** The objectives of spec section 9 on a batch with static B and L. */
export const pretrainLosses = (c: CmgaConfig, p: CmgaParams, batch: Batch): Losses => {
  const { itc, ftc, score, T } = contrastiveLosses(c, p, batch)
  const neg = chooseNegatives(score, { kind: 'hard' }) // without gradient: argmax has none
  const itm = itmLoss(c, p, batch, T, neg)
  const mlm = mlmLoss(c, p, batch)
  return { loss: add(add(itc, ftc), add(itm, mlm)), itc, ftc, itm, mlm, ...neg }
}
