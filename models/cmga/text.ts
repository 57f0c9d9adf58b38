/**
 * Spec section 4: the BERT text encoder (post-norm), and the mask bias it shares with
 * the relation module.
 * @since 0.1.0
 */
import type { F32, I64 } from '../../dsl/index.js'
import { add, cast, gather, mul, slice, sub, unsqueeze } from '../../dsl/index.js'
import type { CmgaConfig } from './config.js'
import { dense, LN, MHA, mlp } from './layers.js'
import type { TextLayer, TextParams } from './params.js'

/** `maskBias[b, j] = (1 - attention_mask[b, j]) * -10000`, shaped [B, 1, 1, L] for the scores. */
export const maskBias = (mask: I64): F32 => unsqueeze(mul(sub(1, cast(mask, 'float32')), -10000), [1, 2])

/** One text layer's self-attention sublayer: `x = LN(x + MHA(...) Wo^T + bo)`. */
export const selfAttention = (x: F32, p: TextLayer, heads: number, bias: F32, eps: number): F32 => {
  const a = p.attention
  const { out } = MHA(dense(x, a.query), dense(x, a.key), dense(x, a.value), heads, bias)
  return LN(add(x, dense(out, a.dense)), a.norm, eps)
}

/** `x = LN(x + GELU(x Wi^T + bi) Wout^T + bout)`. */
export const feedForward = (x: F32, p: TextLayer, eps: number): F32 => LN(add(x, mlp(x, p.intermediate, p.output)), p.outputNorm, eps)

/** The embeddings: `LN(word[ids] + pos[0..L-1] + type[0])`. */
export const embed = (p: TextParams, ids: I64, eps: number): F32 => {
  const L = ids.shape[1]
  const words = gather(p.wordEmbeddings, ids, 0)
  const positions = slice(p.positionEmbeddings, 0, 0, L)
  const type0 = slice(p.tokenTypeEmbeddings, 0, 0, 1)
  return LN(add(add(words, positions), type0), p.embeddingsNorm, eps)
}

/** `T = text_embeds` [B, L, Dt]: embeddings, then the `textLayers` text-only layers. */
export const textEncoder = (c: CmgaConfig, p: TextParams, ids: I64, mask: I64): F32 => {
  const bias = maskBias(mask)
  let x = embed(p, ids, c.text.eps)
  for (const layer of p.layers.slice(0, c.text.textLayers)) {
    x = feedForward(selfAttention(x, layer, c.text.heads, bias, c.text.eps), layer, c.text.eps)
  }
  return x
}
