/**
 * Spec section 9: the pre-training objectives (ITC, FTC, ITM with deterministic hard
 * negatives, MLM) as one graph over a batch of B matched pairs.
 * @since 0.1.0
 */
import type { F32, I64 } from '../../dsl/index.js'
import {
  add, argmax, cast, concat, constant, div, equal, gather, gelu, linear, logSoftmax, maximum, mean, minimum, mul, neg,
  not, oneHot, reshape, sum, where
} from '../../dsl/index.js'
import { fromNumbers } from '../../compiler/ir/tensor.js'
import { globalFeature, globalScore, localScore, tokenFeatures } from './align.js'
import type { CmgaConfig } from './config.js'
import { clsOf, itmHead, relationModule } from './fusion.js'
import { dense, LN, size } from './layers.js'
import type { CmgaParams } from './params.js'
import { textEncoder } from './text.js'
import { visionEncoder } from './vision.js'

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

/** The objectives of spec section 9 on a batch with static B and L. */
export const pretrainLosses = (c: CmgaConfig, p: CmgaParams, batch: Batch): Losses => {
  const { pixels, ids, mask, mlmIds, mlmLabels } = batch
  const B = size(pixels.shape[0])
  const temp = minimum(maximum(p.temp, 0.001), 0.5)

  // ITC and FTC: text-agnostic image features against the text features.
  const T = textEncoder(c, p.text, ids, mask)
  const Vimg = visionEncoder(c, p.vision, pixels, 'image').V
  const sg = globalScore(globalFeature(Vimg, p.visionProj), globalFeature(T, p.textProj))
  const sl = localScore(tokenFeatures(Vimg, p.visionProj), tokenFeatures(T, p.textProj), mask)
  const itc = symmetricCE(div(sg, temp))
  const ftc = symmetricCE(div(sl, temp))

  // ITM: B positives, then for each text j its hard negative image, then for each image i its hard negative text.
  const negImage = hardNegatives(sg, 0) // [B]: over images i for each text j
  const negText = hardNegatives(sg, 1) // [B]: over texts j for each image i
  const arange = constant(fromNumbers('int64', [B], Array.from({ length: B }, (_, i) => i)))
  const imageOf = concat([arange, negImage, arange], 0) // [3B]
  const textOf = concat([arange, arange, negText], 0)
  const Tp = gather(T, textOf, 0)
  const maskP = gather(mask, textOf, 0)
  const Vj = visionEncoder(c, p.vision, gather(pixels, imageOf, 0), 'joint', clsOf(Tp)).V
  const logits = itmHead(relationModule(c, p.text, Tp, maskP, Vj), p.itmHead)
  const labels = constant(fromNumbers('int64', [3 * B], Array.from({ length: 3 * B }, (_, k) => (k < B ? 1 : 0))))
  const itm = crossEntropy(logits, labels)

  // MLM: the masked text through the text encoder and the relation module (joint guidance by its own [CLS]).
  const Tm = textEncoder(c, p.text, mlmIds, mask)
  const Vm = visionEncoder(c, p.vision, pixels, 'joint', clsOf(Tm)).V
  const Fm = relationModule(c, p.text, Tm, mask, Vm)
  const h = LN(gelu(dense(Fm, p.mlm.transform)), p.mlm.norm, c.text.eps)
  const vocab = linear(h, p.text.wordEmbeddings, p.mlm.bias) // [B, L, V]
  const L = size(ids.shape[1])
  const targets = not(equal(mlmLabels, -100))
  const flatLabels = reshape(where(targets, mlmLabels, 0), [B * L])
  const mlm = crossEntropy(reshape(vocab, [B * L, c.text.vocabSize]), flatLabels, reshape(cast(targets, 'float32'), [B * L]))

  return { loss: add(add(itc, ftc), add(itm, mlm)), itc, ftc, itm, mlm, negImage, negText }
}

