/**
 * Text features for scoring (`itc_text`, `text_tokens`, the mask) of a whole text set,
 * encoded in shards so that the per-text `text_embeds` of the set is never held at once
 * (about 2 GB for a COCO-size caption set at base width).
 * @since 0.1.0
 */
import * as E from 'fp-ts/lib/Either.js'
import type * as TE from 'fp-ts/lib/TaskEither.js'
import type { CmgaError } from '../../compiler/errors.js'
import type { Runtime, ScoredTexts } from '../cmga/runtime.js'
import { concatRows, padDim1 } from '../../runtime/model/rows.js'

/**
 * Encodes `texts` (at least one) in shards of `8 * batchSize`, keeping what scoring
 * needs. Each shard is padded to its own longest text, so shards are padded again to
 * the set's longest with zeros; padding is masked out of every score, so the result
 * equals one call over the whole set at every unmasked position. Progress is reported as phase `texts`.
 */
export const encodeScoredTexts =
  (rt: Runtime, texts: readonly string[], onProgress?: (phase: string, done: number, total: number) => void): TE.TaskEither<CmgaError, ScoredTexts> =>
  async () => {
    const shard = 8 * rt.batchSize
    const parts: ScoredTexts[] = []
    for (let from = 0; from < texts.length; from += shard) {
      onProgress?.('texts', from, texts.length)
      const f = await rt.encodeTexts(texts.slice(from, from + shard))()
      if (E.isLeft(f)) return f
      parts.push({ global: f.right.global, tokens: f.right.tokens, mask: f.right.mask })
    }
    onProgress?.('texts', texts.length, texts.length)
    const L = Math.max(...parts.map((p) => p.mask.shape[1]))
    return E.right({
      global: concatRows(parts.map((p) => p.global)),
      tokens: concatRows(parts.map((p) => padDim1(p.tokens, L - 1))),
      mask: concatRows(parts.map((p) => padDim1(p.mask, L)))
    })
  }
