/**
 * The fusion passes, in the order the compiler runs them after the default passes.
 * Each is a pattern / check / rewrite rule set that reports what fired and why
 * candidates did not (see `rule-set.ts`). They rewrite inference graphs only: run them
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
}

/** Token dropping, attention, residual + layer norm, bias + GELU. */
export const fusionPasses = (o: FusionOptions = {}): readonly Pass[] => [dropTokens, fuseAttention(o.attention), fuseSkipLayerNorm, fuseBiasGelu]
