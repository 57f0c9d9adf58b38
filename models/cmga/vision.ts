/**
 * Spec section 5: the ViT image encoder (pre-norm) with guided compression.
 * @since 0.1.0
 */
import type { F32, I64 } from '../../dsl/index.js'
import { add, concat, conv2d, expand, reshape, slice, transpose } from '../../dsl/index.js'
import type { CmgaConfig } from './config.js'
import { keptCounts, numPatches } from './config.js'
import { compress } from './compress.js'
import { dense, LN, MHA, mlp, size } from './layers.js'
import type { VisionParams } from './params.js'

/** `image` (beta = 1), `joint` (beta = imageWeight), `text` (beta = 0), `none` (a plain ViT). */
export type Guidance = 'image' | 'joint' | 'text' | 'none'

/** Whether a mode needs the paired text's [CLS] state. */
export const needsText = (g: Guidance): boolean => g === 'joint' || g === 'text'

/** The vision output: `V` [B, T_final, D] and, per compression layer, the kept indices and guidance scores. */
export interface VisionOut {
  readonly V: F32
  readonly keep: ReadonlyArray<{ readonly layer: number; readonly indices: I64; readonly scores: F32 }>
}

const betaOf = (c: CmgaConfig, g: Guidance): number => (g === 'image' ? 1 : g === 'joint' ? c.compression.imageWeight : 0)

/** Patch embedding, [CLS] and positions: [B, N+1, D]. */
export const patchEmbed = (c: CmgaConfig, p: VisionParams, pixels: F32): F32 => {
  const { patchSize: P, width: D } = c.vision
  const B = pixels.shape[0]
  const grid = conv2d(pixels, p.patchEmbed.weight, p.patchEmbed.bias, [P, P]) // [B, D, S/P, S/P]
  const tokens = transpose(reshape(grid, [B, D, numPatches(c)]), [0, 2, 1]) // [B, N, D]
  return add(concat([expand(p.clsToken, [B, 1, D]), tokens], 1), p.posEmbed)
}

/** The ViT under one guidance mode; `tCls` [B, Dt] is required by `joint` and `text`. */
export const visionEncoder = (c: CmgaConfig, p: VisionParams, pixels: F32, guidance: Guidance, tCls?: F32): VisionOut => {
  const { heads, eps } = c.vision
  const schedule = new Map(keptCounts(c).map((k) => [k.layer, k.kept]))
  const keep: Array<{ layer: number; indices: I64; scores: F32 }> = []
  let x = patchEmbed(c, p, pixels)
  p.blocks.forEach((b, l) => {
    const y = LN(x, b.norm1, eps)
    const D = size(y.shape[2])
    const qkv = dense(y, b.qkv)
    const third = (i: number): F32 => slice(qkv, -1, i * D, (i + 1) * D)
    const { out, probs, keys } = MHA(third(0), third(1), third(2), heads)
    x = add(x, dense(out, b.proj))
    const kept = schedule.get(l)
    if (kept !== undefined && guidance !== 'none') {
      const r = compress(x, probs, keys, betaOf(c, guidance), kept, tCls === undefined ? undefined : { tCls, qkv: b.qkv })
      x = r.x
      keep.push({ layer: l, indices: r.keep, scores: r.scores })
    }
    x = add(x, mlp(LN(x, b.norm2, eps), b.fc1, b.fc2))
  })
  return { V: LN(x, p.norm, eps), keep }
}
