/**
 * A quick retrieval check for training: the stage-1 scores of spec section 7
 * (`score_global + score_local`) of N images against N captions, from weights in
 * memory, and recall@1 in both directions (pair i is image i with caption i).
 * @since 0.1.0
 */
import * as E from 'fp-ts/lib/Either.js'
import * as TE from 'fp-ts/lib/TaskEither.js'
import { pipe } from 'fp-ts/lib/function.js'
import type { CmgaError } from '../../compiler/errors.js'
import type { HostTensor } from '../../compiler/ir/tensor.js'
import { emitModel } from '../../compiler/emit/model.js'
import { buildStage } from '../compile/compile.js'
import type { CmgaConfig } from '../../models/cmga/config.js'
import type { Stage } from '../../models/cmga/graphs.js'
import { openSession } from '../../runtime/session.js'

/** Recall@1 of a score matrix [images, texts]: text-to-image and image-to-text. */
export interface Recall {
  readonly textToImage: number
  readonly imageToText: number
}

/** Runs one stage graph with the weights as initializers. */
const runStage = (c: CmgaConfig, s: Stage, weights: ReadonlyMap<string, HostTensor>, feeds: Record<string, HostTensor>): TE.TaskEither<CmgaError, Record<string, HostTensor>> =>
  pipe(
    TE.fromEither(E.chain(({ graph }: { graph: Parameters<typeof emitModel>[0] }) => emitModel(graph, { weights }))(buildStage(c, s))),
    TE.chain(({ model }) => openSession(model, { threads: 2 })),
    TE.chain((session) => pipe(session.run(feeds), TE.chainFirst(() => session.release())))
  )

/** `score_global + score_local` [N images, N texts] of `pixels` [N,3,S,S] against `ids` / `mask` [N, L]. */
export const stageOneScores = (c: CmgaConfig, weights: ReadonlyMap<string, HostTensor>, pixels: HostTensor, ids: HostTensor, mask: HostTensor): TE.TaskEither<CmgaError, HostTensor<'float32'>> =>
  pipe(
    TE.Do,
    TE.bind('text', () => runStage(c, 'text', weights, { input_ids: ids, attention_mask: mask })),
    TE.bind('image', () => runStage(c, 'vision_image', weights, { pixels })),
    TE.bind('scores', ({ text, image }) =>
      runStage(c, 'scores', weights, { itc_image: image.itc_image, image_tokens: image.image_tokens, itc_text: text.itc_text, text_tokens: text.text_tokens, attention_mask: mask })
    ),
    TE.map(({ scores }) => {
      const [g, l] = [scores.score_global.data as Float32Array, scores.score_local.data as Float32Array]
      return { dtype: 'float32', shape: scores.score_global.shape, data: g.map((x, i) => x + l[i]) }
    })
  )

/** Recall@1 of a square score matrix whose diagonal holds the true pairs (ties count against). */
export const recallAt1 = (scores: HostTensor<'float32'>): Recall => {
  const [n] = scores.shape
  const s = (i: number, j: number): number => scores.data[i * n + j]
  let t2i = 0
  let i2t = 0
  for (let k = 0; k < n; k++) {
    if (Array.from({ length: n }, (_, i) => i).every((i) => i === k || s(i, k) < s(k, k))) t2i++
    if (Array.from({ length: n }, (_, j) => j).every((j) => j === k || s(k, j) < s(k, k))) i2t++
  }
  return { textToImage: t2i / n, imageToText: i2t / n }
}
