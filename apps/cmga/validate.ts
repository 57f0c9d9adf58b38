/**
 * Checks of user inputs against a model's config, before anything runs: shapes, dtypes,
 * token ids within the vocabulary, sequence length within `maxPositions`, 0/1 masks.
 * @since 0.1.0
 */
import * as E from 'fp-ts/lib/Either.js'
import type { CmgaError } from '../../compiler/errors.js'
import { fail } from '../../compiler/errors.js'
import type { DType } from '../../compiler/ir/dtype.js'
import type { HostTensor } from '../../compiler/ir/tensor.js'
import type { CmgaConfig } from '../../models/cmga/config.js'

const shapeText = (s: readonly number[]): string => `[${s.join(', ')}]`

const tensor = (feeds: ReadonlyMap<string, HostTensor>, name: string, dtype: DType, rank: number, source: string): E.Either<CmgaError, HostTensor> => {
  const t = feeds.get(name)
  if (t === undefined) return fail('input', `${source}: missing tensor "${name}"`)
  if (t.dtype !== dtype) return fail('input', `${source}: "${name}" is ${t.dtype}, expected ${dtype}`)
  if (t.shape.length !== rank) return fail('input', `${source}: "${name}" has shape ${shapeText(t.shape)}, expected rank ${rank}`)
  return E.right(t)
}

/** Image tensors: `pixels` float32 [B, 3, S, S]. */
export const checkPixels = (c: CmgaConfig, feeds: ReadonlyMap<string, HostTensor>, source: string): E.Either<CmgaError, HostTensor<'float32'>> =>
  E.chain((t: HostTensor) => {
    const S = c.vision.imageSize
    const [, ch, h, w] = t.shape
    if (ch !== c.vision.channels || h !== S || w !== S) return fail('input', `${source}: "pixels" has shape ${shapeText(t.shape)}, expected [B, ${c.vision.channels}, ${S}, ${S}]`)
    if (t.shape[0] < 1) return fail('input', `${source}: "pixels" holds no image`)
    const d = t.data as Float32Array
    for (let i = 0; i < d.length; i++) if (!Number.isFinite(d[i])) return fail('input', `${source}: "pixels" holds a non-finite value at flat index ${i}`)
    return E.right(t as HostTensor<'float32'>)
  })(tensor(feeds, 'pixels', 'float32', 4, source))

/** Text tensors: `input_ids` and `attention_mask` int64 [B, L]. */
export const checkText = (
  c: CmgaConfig,
  feeds: ReadonlyMap<string, HostTensor>,
  source: string,
  idsName = 'input_ids'
): E.Either<CmgaError, { ids: HostTensor<'int64'>; mask: HostTensor<'int64'> }> => {
  const ids = tensor(feeds, idsName, 'int64', 2, source)
  const mask = tensor(feeds, 'attention_mask', 'int64', 2, source)
  if (E.isLeft(ids)) return ids
  if (E.isLeft(mask)) return mask
  const [B, L] = ids.right.shape
  if (mask.right.shape[0] !== B || mask.right.shape[1] !== L) {
    return fail('input', `${source}: "attention_mask" has shape ${shapeText(mask.right.shape)}, but "${idsName}" has ${shapeText(ids.right.shape)}`)
  }
  if (B < 1 || L < 1) return fail('input', `${source}: "${idsName}" holds no tokens`)
  if (L > c.text.maxPositions) return fail('input', `${source}: sequence length ${L} exceeds text.maxPositions (${c.text.maxPositions})`)
  const idv = ids.right.data as BigInt64Array
  for (let i = 0; i < idv.length; i++) {
    if (idv[i] < 0n || idv[i] >= BigInt(c.text.vocabSize)) {
      return fail('input', `${source}: "${idsName}"[${Math.floor(i / L)}, ${i % L}] = ${idv[i]} is not a token id (vocabSize ${c.text.vocabSize})`)
    }
  }
  const mv = mask.right.data as BigInt64Array
  for (let i = 0; i < mv.length; i++) {
    if (mv[i] !== 0n && mv[i] !== 1n) return fail('input', `${source}: "attention_mask"[${Math.floor(i / L)}, ${i % L}] = ${mv[i]} is not 0 or 1`)
  }
  return E.right({ ids: ids.right as HostTensor<'int64'>, mask: mask.right as HostTensor<'int64'> })
}
