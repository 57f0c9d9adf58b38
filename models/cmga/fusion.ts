/**
 * Spec section 6: the relation module (fusion layers with cross-attention), the ITM
 * head and the optional VQA head.
 * @since 0.1.0
 */
import type { F32, I64 } from '../../dsl/index.js'
import { add, gelu, slice, squeeze } from '../../dsl/index.js'
import type { CmgaConfig } from './config.js'
import { dense, LN, MHA } from './layers.js'
import type { Attention, Linear, TextParams, VqaHead } from './params.js'
import { raise } from '../../compiler/errors.js'
import { feedForward, maskBias, selfAttention } from './text.js'

/** `c = MHA(x Wcq^T, V Wck^T, V Wcv^T)` over all visual tokens, then `LN(x + c Wco^T + bco)`. */
const crossAttention = (x: F32, V: F32, a: Attention, heads: number, eps: number): F32 => {
  const { out } = MHA(dense(x, a.query), dense(V, a.key), dense(V, a.value), heads)
  return LN(add(x, dense(out, a.dense)), a.norm, eps)
}

/** `F = fusion_embeds` [B, L, Dt] from text states `T`, the text mask and visual tokens `V`. */
export const relationModule = (c: CmgaConfig, p: TextParams, T: F32, mask: I64, V: F32): F32 => {
  const { heads, eps, textLayers } = c.text
  const bias = maskBias(mask)
  let x = T
  for (const layer of p.layers.slice(textLayers)) {
    x = selfAttention(x, layer, heads, bias, eps)
    x = crossAttention(x, V, layer.crossattention ?? raise('shape', 'a fusion layer without cross-attention parameters'), heads, eps)
    x = feedForward(x, layer, eps)
  }
  return x
}

/** The [CLS] row `F[:, 0]` [B, Dt]. */
export const clsOf = (x: F32): F32 => squeeze(slice(x, 1, 0, 1), 1)

/** `itm_logits = F[:, 0] itm_head^T + b` [B, 2]; the match probability is softmax[:, 1]. */
export const itmHead = (F: F32, p: Linear): F32 => dense(clsOf(F), p)

/** `vqa_logits = dense2(LN(GELU(dense1(F[:, 0])); vqa_head.norm, 1e-12))`. */
export const vqaHead = (F: F32, p: VqaHead): F32 => dense(LN(gelu(dense(clsOf(F), p.dense1)), p.norm, 1e-12), p.dense2)
