/**
 * What the runtime computes once and reuses: text-agnostic image features (spec
 * section 7, `image` guidance) and text features, with row selection and stacking.
 * @since 0.1.0
 */
import type { HostTensor } from '../../compiler/ir/tensor.js'
import { concatRows, takeRows } from '../../runtime/model/rows.js'

/** Image features under `image` guidance: what a gallery index stores. */
export interface ImageFeatures {
  /** `itc_image`, float32 [N, E]: the normalized global feature. */
  readonly global: HostTensor<'float32'>
  /** `image_tokens`, float32 [N, Tv - 1, E]: the normalized visual token features. */
  readonly tokens: HostTensor<'float32'>
}

/** Text features, every text padded to one length L. */
export interface TextFeatures {
  readonly texts: readonly string[]
  /** Each text's WordPiece tokens, [CLS] and [SEP] included. */
  readonly words: readonly (readonly string[])[]
  /** int64 [N, L]. */
  readonly ids: HostTensor<'int64'>
  /** int64 [N, L], 1 for tokens. */
  readonly mask: HostTensor<'int64'>
  /** `itc_text`, float32 [N, E]. */
  readonly global: HostTensor<'float32'>
  /** `text_tokens`, float32 [N, L - 1, E]. */
  readonly tokens: HostTensor<'float32'>
  /** `text_embeds`, float32 [N, L, Dt] (the relation module's input). */
  readonly embeds: HostTensor<'float32'>
  /** `text_cls`, float32 [N, Dt] (the joint guidance's input). */
  readonly cls: HostTensor<'float32'>
}

/** Images `indices` of a feature set. */
export const selectImages = (f: ImageFeatures, indices: readonly number[]): ImageFeatures => ({
  global: takeRows(f.global, indices),
  tokens: takeRows(f.tokens, indices)
})

/** Image feature sets stacked (same token count). */
export const concatImages = (fs: readonly ImageFeatures[]): ImageFeatures => ({
  global: concatRows(fs.map((f) => f.global)),
  tokens: concatRows(fs.map((f) => f.tokens))
})

/** Texts `indices` of what scoring needs of a text set (the length L is kept). */
export const selectScoredTexts = (f: Pick<TextFeatures, 'global' | 'tokens' | 'mask'>, indices: readonly number[]): Pick<TextFeatures, 'global' | 'tokens' | 'mask'> => ({
  global: takeRows(f.global, indices),
  tokens: takeRows(f.tokens, indices),
  mask: takeRows(f.mask, indices)
})
