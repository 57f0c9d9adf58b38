/**
 * Checks of a training batch against a config before anything is compiled: the tensors
 * a mode needs, their dtypes and shapes, token ids within the vocabulary, the length
 * within `maxPositions`, MLM labels that are -100 or a token id. Each problem is one
 * `input` error naming the tensor (and the element) at fault.
 * @since 0.1.0
 */
import * as E from 'fp-ts/lib/Either.js'
import type { CmgaError } from '../../compiler/errors.js'
import { fail } from '../../compiler/errors.js'
import type { HostTensor } from '../../compiler/ir/tensor.js'
import type { CmgaConfig } from '../../models/cmga/config.js'
import type { TrainMode } from '../../models/cmga/train-step.js'
import { checkPixels, checkText } from '../cmga/validate.js'

/** A checked batch: its size and the feeds a mode's graphs take. */
export interface CheckedBatch {
  readonly B: number
  readonly L: number
  readonly feeds: Readonly<Record<string, HostTensor>>
}

/** The value MLM labels hold where no token is predicted (PyTorch's ignore index). */
export const IGNORE_LABEL = -100n

const checkLabels = (c: CmgaConfig, t: HostTensor | undefined, B: number, L: number, source: string): E.Either<CmgaError, HostTensor> => {
  if (t === undefined) return fail('input', `${source}: missing tensor "mlm_labels"`)
  if (t.dtype !== 'int64') return fail('input', `${source}: "mlm_labels" is ${t.dtype}, expected int64`)
  if (t.shape.length !== 2 || t.shape[0] !== B || t.shape[1] !== L) {
    return fail('input', `${source}: "mlm_labels" has shape [${t.shape.join(', ')}], expected [${B}, ${L}] like "input_ids"`)
  }
  const d = t.data as BigInt64Array
  const V = BigInt(c.text.vocabSize)
  for (let i = 0; i < d.length; i++) {
    if (d[i] !== IGNORE_LABEL && (d[i] < 0n || d[i] >= V)) {
      return fail('input', `${source}: "mlm_labels"[${Math.floor(i / L)}, ${i % L}] = ${d[i]} is neither -100 (no target) nor a token id (vocabSize ${c.text.vocabSize})`)
    }
  }
  return E.right(t)
}

/**
 * Checks the batch tensors `mode` needs: `pixels` float32
 * [B, 3, S, S], `input_ids` / `attention_mask` (and in pretraining `mlm_input_ids` /
 * `mlm_labels`) int64 [B, L], with B >= 2 (every pair needs a hard negative).
 */
export const checkBatch = (c: CmgaConfig, feeds: ReadonlyMap<string, HostTensor>, source: string, mode: TrainMode): E.Either<CmgaError, CheckedBatch> => {
  const px = checkPixels(c, feeds, source)
  if (E.isLeft(px)) return px
  const text = checkText(c, feeds, source)
  if (E.isLeft(text)) return text
  const [B, L] = text.right.ids.shape
  if (px.right.shape[0] !== B) return fail('input', `${source}: ${px.right.shape[0]} images but ${B} texts; pair b is image b with text b`)
  if (B < 2) return fail('input', `${source}: a training batch needs at least 2 pairs (each pair's hard negatives come from the others), got ${B}`)
  const out: Record<string, HostTensor> = { pixels: px.right, input_ids: text.right.ids, attention_mask: text.right.mask }
  if (mode === 'pretrain') {
    const mlm = checkText(c, feeds, source, 'mlm_input_ids')
    if (E.isLeft(mlm)) return mlm
    if (mlm.right.ids.shape[0] !== B || mlm.right.ids.shape[1] !== L) return fail('input', `${source}: "mlm_input_ids" has shape [${mlm.right.ids.shape.join(', ')}], expected [${B}, ${L}]`)
    const labels = checkLabels(c, feeds.get('mlm_labels'), B, L, source)
    if (E.isLeft(labels)) return labels
    out.mlm_input_ids = mlm.right.ids
    out.mlm_labels = labels.right
  }
  return E.right({ B, L, feeds: out }) // other tensors in the file are ignored
}
