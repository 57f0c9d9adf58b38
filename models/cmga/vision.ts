/**
 * Spec section 5: the ViT image encoder (pre-norm) with guided compression.
 * @since 0.1.0
 */
import type { F32, I64 } from '../../dsl/index.js'
import { add, concat, conv2d, expand, gather, reshape, slice, transpose } from '../../dsl/index.js'
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

type Block = VisionParams['blocks'][number]

/** A block's attention half: the residual after it, its probabilities and keys. */
interface Attended {
  readonly x: F32
  /** [B, H, T, T], or only the [CLS] row [B, H, 1, T] (all that compression reads). */
  readonly probs: F32
  readonly keys: F32
}

const attend = (c: CmgaConfig, b: Block, x: F32): Attended => {
  const y = LN(x, b.norm1, c.vision.eps)
  const D = size(y.shape[2])
  const qkv = dense(y, b.qkv)
  const third = (i: number): F32 => slice(qkv, -1, i * D, (i + 1) * D)
  const { out, probs, keys } = MHA(third(0), third(1), third(2), c.vision.heads)
  return { x: add(x, dense(out, b.proj)), probs, keys }
}

/** A block's MLP half: the residual after it. */
const feedForward = (c: CmgaConfig, b: Block, x: F32): F32 => add(x, mlp(LN(x, b.norm2, c.vision.eps), b.fc1, b.fc2))

/**
 * The text-independent start of the encoder, the same under every guidance: every block
 * before the first compression layer, and that layer's attention (`layer` is that block;
 * the depth, and no `attention`, when no layer compresses). Pairs that share an image
 * share it: gather it (`gatherPrefix`) instead of gathering pixels and running it again.
 */
export interface VisionPrefix {
  readonly layer: number
  /** The residual: after `layer`'s attention half where `attention` is there, else after every block. */
  readonly x: F32
  /** `layer`'s attention probabilities and keys (what its compression reads). */
  readonly attention?: Omit<Attended, 'x'>
}

/** The prefix of `visionEncoder` on `pixels`. */
export const visionPrefix = (c: CmgaConfig, p: VisionParams, pixels: F32): VisionPrefix => {
  const layers = keptCounts(c).map((k) => k.layer)
  const first = layers.length === 0 ? p.blocks.length : Math.min(...layers)
  let x = patchEmbed(c, p, pixels)
  for (const b of p.blocks.slice(0, first)) x = feedForward(c, b, attend(c, b, x).x)
  if (first === p.blocks.length) return { layer: first, x }
  const { x: attended, probs, keys } = attend(c, p.blocks[first], x)
  return { layer: first, x: attended, attention: { probs, keys } }
}

/** The prefix of the images `rows` (int64 [R]) picks, [CLS] attention row only. */
export const gatherPrefix = (v: VisionPrefix, rows: I64): VisionPrefix => {
  const a = v.attention
  const x = gather(v.x, rows, 0)
  return a === undefined ? { layer: v.layer, x } : { layer: v.layer, x, attention: { probs: gather(slice(a.probs, 2, 0, 1), rows, 0), keys: gather(a.keys, rows, 0) } }
}

/** The rest of the ViT under one guidance mode, from its prefix; `tCls` [B, Dt] as `visionEncoder`. */
export const visionSuffix = (c: CmgaConfig, p: VisionParams, v: VisionPrefix, guidance: Guidance, tCls?: F32): VisionOut => {
  const schedule = new Map(keptCounts(c).map((k) => [k.layer, k.kept]))
  const keep: Array<{ layer: number; indices: I64; scores: F32 }> = []
  let x = v.x
  p.blocks.forEach((b, l) => {
    if (l < v.layer) return
    const a = l === v.layer && v.attention !== undefined ? { x, ...v.attention } : attend(c, b, x)
    x = a.x
    const kept = schedule.get(l)
    if (kept !== undefined && guidance !== 'none') {
      const r = compress(x, a.probs, a.keys, betaOf(c, guidance), kept, tCls === undefined ? undefined : { tCls, qkv: b.qkv })
      x = r.x
      keep.push({ layer: l, indices: r.keep, scores: r.scores })
    }
    x = feedForward(c, b, x)
  })
  return { V: LN(x, p.norm, c.vision.eps), keep }
}

/** The ViT under one guidance mode; `tCls` [B, Dt] is required by `joint` and `text`. */
export const visionEncoder = (c: CmgaConfig, p: VisionParams, pixels: F32, guidance: Guidance, tCls?: F32): VisionOut =>
  visionSuffix(c, p, visionPrefix(c, p, pixels), guidance, tCls)
