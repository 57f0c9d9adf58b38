/**
 * Training graphs for CMGA: the objective of a training mode (or of chosen objectives
 * and ITM negatives) over a batch of static size B x L (spec section 9), its gradient,
 * and one AdamW step over it.
 * @since 0.1.0
 */
import * as E from 'fp-ts/lib/Either.js'
import { pipe } from 'fp-ts/lib/function.js'
import type { F32, Graph, I64, Tensor } from '../../dsl/index.js'
import { add, graph, input, maximum, minimum } from '../../dsl/index.js'
import { grad } from '../../compiler/autodiff/grad.js'
import type { CmgaError } from '../../compiler/errors.js'
import { tryBuild } from '../../compiler/errors.js'
import type { AdamWOptions, TrainStep } from '../../compiler/train/adamw.js'
import { adamwStep } from '../../compiler/train/adamw.js'
import type { CmgaConfig } from './config.js'
import type { NegativeChoice } from './losses.js'
import { chooseNegatives, contrastiveLosses, itmLoss, mlmLoss } from './losses.js'
import { cmgaParams } from './params.js'

// -------------------------------------------------------------------------------------
// model
// -------------------------------------------------------------------------------------

/** `pretrain`: ITC + FTC + ITM + MLM. `retrieval` (fine-tuning): ITC + FTC + ITM. */
export type TrainMode = 'pretrain' | 'retrieval'

/** The objectives of spec section 9, in the order they are summed and reported. */
export const objectiveNames = ['itc', 'ftc', 'itm', 'mlm'] as const

/** One objective of spec section 9. */
export type Objective = (typeof objectiveNames)[number]

/** The objectives of a mode. */
export const modeObjectives: Readonly<Record<TrainMode, readonly Objective[]>> = { pretrain: objectiveNames, retrieval: ['itc', 'ftc', 'itm'] }

/** What a training graph minimizes: a set of objectives and how ITM picks its negatives. */
export interface TrainObjective {
  /** In `objectiveNames` order, no repeats. */
  readonly objectives: readonly Objective[]
  readonly negatives: NegativeChoice
  /** ITM trains the relation module and the ITM head only: its gradient stops at the encoders' outputs (default false: the spec's sum trains everything). */
  readonly itmDetach?: boolean
}

/** The name of the noise input of ITM negatives other than `hard`, float32 [2, B, B]. */
export const ITM_NOISE = 'itm_noise'

/** The name of the bias input of `partner` ITM negatives, float32 [B, B] (image i, text j). */
export const ITM_BIAS = 'itm_bias'

/** A mode as an objective: its objectives, with the spec's hard negatives. */
const objectiveOf = (what: TrainMode | TrainObjective): TrainObjective =>
  typeof what === 'string' ? { objectives: modeObjectives[what], negatives: { kind: 'hard' } } : what

/** Whether a train step of `o` takes the `itm_noise` input. */
export const needsItmNoise = (o: TrainObjective): boolean => o.objectives.includes('itm') && o.negatives.kind !== 'hard' && o.negatives.kind !== 'partner'

/** Whether a train step of `o` takes the `itm_bias` input. */
export const needsItmBias = (o: TrainObjective): boolean => o.objectives.includes('itm') && o.negatives.kind === 'partner'

/** The loss parts an objective set reports, as output names (`loss` is their sum). */
export const lossNames = (objectives: readonly Objective[]): readonly string[] => ['loss', ...objectives.map((o) => `loss_${o}`)]

// -------------------------------------------------------------------------------------
// graphs
// -------------------------------------------------------------------------------------

/** The sum of the parts, as halves (`(itc + ftc) + (itm + mlm)`, `(itc + ftc) + itm`). */
const total = (xs: readonly F32[]): F32 => {
  if (xs.length === 1) return xs[0]
  const h = Math.ceil(xs.length / 2)
  return add(total(xs.slice(0, h)), total(xs.slice(h)))
}

/**
 * The objective of `what` (a mode, or objectives and ITM negatives) on a batch of B
 * pairs of L tokens: outputs `loss` (float32 [], what training minimizes, the sum of
 * the chosen parts), the parts `loss_itc`, `loss_ftc`, `loss_itm`, `loss_mlm` that are
 * chosen as float32 [], and with ITM its negatives `itm_neg_image`, `itm_neg_text`
 * int64 [B]. Parts not chosen are not built, so the graph uses only their parameters.
 * Inputs: `pixels`, `input_ids`, `attention_mask`, with MLM `mlm_input_ids` and
 * `mlm_labels`, with `partner` ITM negatives `itm_bias` [B, B], and with other ITM
 * negatives than `hard` `itm_noise` [2, B, B]. Throws
 * a `BuildError` for sizes the model rejects.
 */
export const trainingLossGraph = (c: CmgaConfig, B: number, L: number, what: TrainMode | TrainObjective): Graph => {
  const o = objectiveOf(what)
  if (o.objectives.length === 0) throw new Error('trainingLossGraph: no objective chosen')
  const p = cmgaParams(c)
  const S = c.vision.imageSize
  const pixels = input('pixels', 'float32', [B, 3, S, S])
  const [ids, mask, mlmIds, mlmLabels] = ['input_ids', 'attention_mask', 'mlm_input_ids', 'mlm_labels'].map((n) => input(n, 'int64', [B, L]))
  const noise = needsItmNoise(o) ? input(ITM_NOISE, 'float32', [2, B, B]) : needsItmBias(o) ? input(ITM_BIAS, 'float32', [B, B]) : undefined
  const has = (x: Objective): boolean => o.objectives.includes(x)
  const parts: Partial<Record<Objective, F32>> = {}
  const negatives: Record<string, I64> = {}
  if (has('itc') || has('ftc') || has('itm')) {
    const con = contrastiveLosses(c, p, { pixels, ids, mask })
    if (has('itc')) parts.itc = con.itc
    if (has('ftc')) parts.ftc = con.ftc
    if (has('itm')) {
      const neg = chooseNegatives(con.score, o.negatives, noise)
      parts.itm = itmLoss(c, p, { pixels, mask }, con.T, neg, o.itmDetach === true)
      Object.assign(negatives, { itm_neg_image: neg.negImage, itm_neg_text: neg.negText })
    }
  }
  if (has('mlm')) parts.mlm = mlmLoss(c, p, { pixels, mask, mlmIds, mlmLabels })
  const chosen = objectiveNames.filter(has)
  const inputs = [pixels, ids, mask, ...(has('mlm') ? [mlmIds, mlmLabels] : []), ...(noise === undefined ? [] : [noise])]
  const mode = (Object.keys(modeObjectives) as TrainMode[]).find((m) => modeObjectives[m].join() === chosen.join())
  const detached = has('itm') && o.itmDetach === true
  const name = mode !== undefined && noise === undefined && !detached ? mode : [...chosen, ...(noise === undefined ? [] : [o.negatives.kind]), ...(detached ? ['detached'] : [])].join('_')
  return graph(`${name}_loss`, inputs, {
    loss: total(chosen.map((x) => parts[x] as F32)),
    ...Object.fromEntries(chosen.map((x) => [`loss_${x}`, parts[x] as F32])),
    ...negatives
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
 * One AdamW step of `what` on a batch of B x L (see `adamwStep` for the inputs and
 * outputs), with the temperature clamped after the update. It updates only the
 * parameters the chosen objectives use.
 */
export const cmgaTrainStep = (c: CmgaConfig, B: number, L: number, what: TrainMode | TrainObjective, opts: AdamWOptions): E.Either<CmgaError, TrainStep> =>
  pipe(
    tryBuild(() => trainingLossGraph(c, B, L, what)),
    E.chain((g) => adamwStep(g, 'loss', { ...opts, project: clampTemperature }))
  )
