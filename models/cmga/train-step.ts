/**
 * Training graphs for CMGA: the objective of a training mode over a batch of static
 * size B x L (spec section 9), its gradient, and one AdamW step over it.
 * @since 0.1.0
 */
import * as E from 'fp-ts/lib/Either.js'
import { pipe } from 'fp-ts/lib/function.js'
import type { F32, Graph, Tensor } from '../../dsl/index.js'
import { add, graph, input, maximum, minimum } from '../../dsl/index.js'
import { grad } from '../../compiler/autodiff/grad.js'
import type { CmgaError } from '../../compiler/errors.js'
import { tryBuild } from '../../compiler/errors.js'
import type { AdamWOptions, TrainStep } from '../../compiler/train/adamw.js'
import { adamwStep } from '../../compiler/train/adamw.js'
import type { CmgaConfig } from './config.js'
import { pretrainLosses } from './losses.js'
import { cmgaParams } from './params.js'

// -------------------------------------------------------------------------------------
// model
// -------------------------------------------------------------------------------------

/** `pretrain`: ITC + FTC + ITM + MLM. `retrieval` (fine-tuning): ITC + FTC + ITM. */
export type TrainMode = 'pretrain' | 'retrieval'

/** The loss parts a mode reports, as output names (`loss` is their sum). */
export const lossNames = (mode: TrainMode): readonly string[] =>
  mode === 'pretrain' ? ['loss', 'loss_itc', 'loss_ftc', 'loss_itm', 'loss_mlm'] : ['loss', 'loss_itc', 'loss_ftc', 'loss_itm']

// -------------------------------------------------------------------------------------
// graphs
// -------------------------------------------------------------------------------------

/**
 * The objective of `mode` on a batch of B pairs of L tokens: outputs `loss` (float32 [],
 * what training minimizes), the parts `loss_itc`, `loss_ftc`, `loss_itm` (and
 * `loss_mlm` in pretraining) as float32 [], and the hard negatives `itm_neg_image`,
 * `itm_neg_text` int64 [B]. Throws a `BuildError` for sizes the model rejects.
 */
export const trainingLossGraph = (c: CmgaConfig, B: number, L: number, mode: TrainMode): Graph => {
  const p = cmgaParams(c)
  const S = c.vision.imageSize
  const pixels = input('pixels', 'float32', [B, 3, S, S])
  const [ids, mask, mlmIds, mlmLabels] = ['input_ids', 'attention_mask', 'mlm_input_ids', 'mlm_labels'].map((n) => input(n, 'int64', [B, L]))
  const l = pretrainLosses(c, p, { pixels, ids, mask, mlmIds, mlmLabels })
  const parts: Record<string, F32> = { loss_itc: l.itc, loss_ftc: l.ftc, loss_itm: l.itm }
  const loss = mode === 'pretrain' ? l.loss : add(add(l.itc, l.ftc), l.itm)
  const inputs = mode === 'pretrain' ? [pixels, ids, mask, mlmIds, mlmLabels] : [pixels, ids, mask]
  return graph(`${mode}_loss`, inputs, {
    loss,
    ...parts,
    ...(mode === 'pretrain' ? { loss_mlm: l.mlm } : {}),
    itm_neg_image: l.negImage,
    itm_neg_text: l.negText
  })
}

/** `trainingLossGraph` plus `grad.<name>` for every parameter the loss uses (`grad` of `loss`). */
export const gradientGraph = (c: CmgaConfig, B: number, L: number, mode: TrainMode = 'pretrain'): E.Either<CmgaError, Graph> =>
  pipe(
    tryBuild(() => trainingLossGraph(c, B, L, mode)),
    E.chain((g) => grad(g, 'loss', 'params'))
  )

/** ALBEF keeps the temperature in [0.001, 0.5] after every update (`temp.clamp_`). */
export const clampTemperature = (name: string, next: Tensor): Tensor => (name === 'temp' ? minimum(maximum(next, 0.001), 0.5) : next)

/**
 * One AdamW step of `mode` on a batch of B x L (see `adamwStep` for the inputs and
 * outputs), with the temperature clamped after the update.
 */
export const cmgaTrainStep = (c: CmgaConfig, B: number, L: number, mode: TrainMode, opts: AdamWOptions): E.Either<CmgaError, TrainStep> =>
  pipe(
    tryBuild(() => trainingLossGraph(c, B, L, mode)),
    E.chain((g) => adamwStep(g, 'loss', { ...opts, project: clampTemperature }))
  )
