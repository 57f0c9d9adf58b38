/**
 * One forward and backward pass of the pre-training objectives (spec section 9) on a
 * given batch, through a compiled gradient graph on onnxruntime: what `cmga grad`
 * writes.
 * @since 0.1.0
 */
import * as E from 'fp-ts/lib/Either.js'
import * as TE from 'fp-ts/lib/TaskEither.js'
import { pipe } from 'fp-ts/lib/function.js'
import type { CmgaError } from '../../compiler/errors.js'
import { cmgaError } from '../../compiler/errors.js'
import type { HostTensor } from '../../compiler/ir/tensor.js'
import { zeros } from '../../compiler/ir/tensor.js'
import type { CmgaConfig } from '../../models/cmga/config.js'
import { parameterList } from '../../models/cmga/params.js'
import { gradientGraph, lossNames, modeObjectives } from '../../models/cmga/train-step.js'
import { openSession } from '../../runtime/session.js'
import type { Precision } from './compile.js'
import { compileTraining } from './compile.js'
import { checkBatch } from './validate.js'

/** What to differentiate. */
export interface GradRequest {
  readonly config: CmgaConfig
  /** Every parameter of the config, by ALBEF name. */
  readonly weights: ReadonlyMap<string, HostTensor>
  /** `pixels`, `input_ids`, `attention_mask`, `mlm_input_ids`, `mlm_labels`. */
  readonly batch: ReadonlyMap<string, HostTensor>
  /** Where the batch came from, for messages. */
  readonly source: string
  /** Default float64: see `promoteFloat64`. */
  readonly precision?: Precision
  /** onnxruntime intra-op threads (default 2). */
  readonly threads?: number
}

/**
 * `loss`, `loss_itc`, `loss_ftc`, `loss_itm`, `loss_mlm` (float32 [1]), `itm_neg_image`,
 * `itm_neg_text` (int64 [B]) and `grad.<name>` for every parameter of the config, in
 * `parameterList` order (zeros for parameters the objectives do not use, such as the
 * VQA head; a scalar parameter's gradient as [1], as the fixtures store `temp`).
 */
export const computeGradients = (req: GradRequest): TE.TaskEither<CmgaError, Map<string, HostTensor>> =>
  pipe(
    TE.fromEither(checkBatch(req.config, req.batch, req.source, 'pretrain')),
    TE.bindTo('batch'),
    TE.bind('compiled', ({ batch }) =>
      TE.fromEither(pipe(gradientGraph(req.config, batch.B, batch.L), E.chain((g) => compileTraining(g, req.precision ?? 'float64'))))
    ),
    TE.bind('session', ({ compiled }) => openSession(compiled.model, { threads: req.threads ?? 2 })),
    TE.bind('outputs', ({ batch, session }) => {
      const names = session.inputNames.filter((n) => !Object.hasOwn(batch.feeds, n))
      const missing = names.filter((n) => !req.weights.has(n))
      if (missing.length > 0) return TE.left(cmgaError('weights', `missing parameter(s): ${missing.join(', ')}`))
      return session.run({ ...batch.feeds, ...Object.fromEntries(names.map((n) => [n, req.weights.get(n) as HostTensor])) })
    }),
    TE.chainFirst(({ session }) => session.release()),
    TE.map(({ outputs }) => {
      const out = new Map<string, HostTensor>()
      for (const name of lossNames(modeObjectives.pretrain)) out.set(name, { ...outputs[name], shape: [1] })
      out.set('itm_neg_image', outputs.itm_neg_image)
      out.set('itm_neg_text', outputs.itm_neg_text)
      for (const p of parameterList(req.config)) {
        const g = outputs[`grad.${p.name}`] ?? zeros('float32', p.shape)
        out.set(`grad.${p.name}`, p.shape.length === 0 ? { ...g, shape: [1] } : g)
      }
      return out
    })
  )
