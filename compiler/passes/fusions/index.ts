/**
 * The fusion passes, in the order the compiler runs them after the default passes.
 * Each is a rule list on the rewrite engine that reports what fired and why candidates
 * did not (see `../rewrite.ts`). They rewrite inference graphs only: run them
 * after `grad`, never before.
 * @since 0.1.0
 */
import type { Pass } from '../pass.js'
import type { AttentionOptions } from './attention.js'
import { fuseAttention } from './attention.js'
import { fuseBiasGelu } from './bias-gelu.js'
import { fuseSkipLayerNorm } from './skip-layer-norm.js'
import { dropTokens } from './token-drop.js'

export type { AttentionOptions }
export { dropTokens, fuseAttention, fuseBiasGelu, fuseSkipLayerNorm }

/** Options of `fusionPasses`. */
export interface FusionOptions {
  readonly attention?: AttentionOptions
  /**
   * Run `fuseSkipLayerNorm` (default false): onnxruntime 1.30's CPU SkipLayerNormalization
   * kernel measured about 2x slower than the Add + LayerNormalization it replaces
   * (bench/results.md), so the compiler leaves residual adds unfused unless asked.
   */
  readonly skipLayerNorm?: boolean
}

/** Token dropping, attention, bias + GELU, and (when asked) residual + layer norm. */
export const fusionPasses = (o: FusionOptions = {}): readonly Pass[] => [
  dropTokens,
  fuseAttention(o.attention),
  ...(o.skipLayerNorm === true ? [fuseSkipLayerNorm] : []),
  fuseBiasGelu
]
