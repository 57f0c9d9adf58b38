/**
 * Masked-language-model inputs (BERT's and ALBEF's recipe, spec section 9): 15% of the
 * tokens that are neither special nor padding become targets; of those 80% are
 * replaced by [MASK], 10% by a random token and 10% left unchanged. Drawn from a
 * seeded generator in the data pipeline, so a run is reproducible step by step.
 * @since 0.1.0
 */
import type { HostTensor } from '../../compiler/ir/tensor.js'
import { IGNORE_LABEL } from './validate.js'

/** What masking needs to know about the vocabulary. */
export interface MaskingVocab {
  /** Ids never masked ([PAD], [CLS], [SEP], [UNK], [MASK], ...). */
  readonly special: ReadonlySet<number>
  readonly maskId: number
  /** Random replacements are drawn from ids `0 .. size-1`. */
  readonly size: number
}

/** Masked ids and labels (the original id at targets, -100 elsewhere), int64 [B, L]. */
export interface Masked {
  readonly ids: HostTensor<'int64'>
  readonly labels: HostTensor<'int64'>
}

/** Options of `maskTokens`. */
export interface MaskingOptions {
  /** Share of eligible tokens that become targets (default 0.15). */
  readonly probability?: number
}

/**
 * Masks a batch. `ids` and `mask` are int64 [B, L] (`mask` 1 for tokens); `rand` gives
 * uniform numbers in [0, 1). Every eligible token draws from `rand` once (and targets
 * twice more), in row-major order, so the result depends only on the inputs and the
 * generator's state.
 */
export const maskTokens = (ids: HostTensor<'int64'>, mask: HostTensor<'int64'>, vocab: MaskingVocab, rand: () => number, opts: MaskingOptions = {}): Masked => {
  const p = opts.probability ?? 0.15
  const src = ids.data
  const out = src.slice()
  const labels = new BigInt64Array(src.length).fill(IGNORE_LABEL)
  for (let i = 0; i < src.length; i++) {
    if (mask.data[i] !== 1n || vocab.special.has(Number(src[i]))) continue
    if (rand() >= p) continue
    labels[i] = src[i]
    const r = rand()
    const random = BigInt(Math.floor(rand() * vocab.size))
    if (r < 0.8) out[i] = BigInt(vocab.maskId)
    else if (r < 0.9) out[i] = random
  }
  return { ids: { dtype: 'int64', shape: [...ids.shape], data: out }, labels: { dtype: 'int64', shape: [...ids.shape], data: labels } }
}
