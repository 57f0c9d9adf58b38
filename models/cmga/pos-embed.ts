/**
 * Position embeddings trained at another image size: ALBEF's `interpolate_pos_embed`
 * (models/vit.py), which real checkpoints need when the config's image size differs
 * from the one they were trained at (ALBEF pre-trains at 256 px and fine-tunes at
 * 384 px). The [CLS] row is kept; the grid of patch rows is resized with PyTorch's
 * `interpolate(mode='bicubic', align_corners=False)`: cubic convolution with
 * A = -0.75, source coordinate `(i + 0.5) * in / out - 0.5`, edge indices clamped.
 * @since 0.1.0
 */
import type { HostTensor } from '../../compiler/ir/tensor.js'

const A = -0.75

/** The four cubic-convolution weights at fraction `t` (for offsets -1, 0, 1, 2). */
const cubicWeights = (t: number): readonly [number, number, number, number] => {
  const near = (x: number): number => ((A + 2) * x - (A + 3)) * x * x + 1 // |x| <= 1
  const far = (x: number): number => ((A * x - 5 * A) * x + 8 * A) * x - 4 * A // 1 < |x| < 2
  return [far(t + 1), near(t), near(1 - t), far(2 - t)]
}

/** For each output index, the four source indices (clamped) and their weights. */
const taps = (from: number, to: number): Array<{ idx: number[]; w: readonly number[] }> =>
  Array.from({ length: to }, (_, i) => {
    const src = ((i + 0.5) * from) / to - 0.5
    const x0 = Math.floor(src)
    const w = cubicWeights(src - x0)
    return { idx: [-1, 0, 1, 2].map((k) => Math.min(Math.max(x0 + k, 0), from - 1)), w }
  })

/** The side of the square grid of `tokens - 1` patch rows, or null when it is not square. */
export const gridSide = (tokens: number): number | null => {
  const n = Math.round(Math.sqrt(tokens - 1))
  return n > 0 && n * n === tokens - 1 ? n : null
}

/** `pos_embed` [1, 1 + n*n, D] resized to [1, 1 + m*m, D] as ALBEF does (float64 inside, float32 out). */
export const interpolatePosEmbed = (t: HostTensor<'float32'>, m: number): HostTensor<'float32'> => {
  const [, tokens, D] = t.shape
  const n = gridSide(tokens)
  if (t.shape.length !== 3 || t.shape[0] !== 1 || n === null) throw new RangeError(`pos_embed [${t.shape.join(', ')}] is not [1, 1 + n*n, D]`)
  const src = t.data
  const out = new Float32Array((1 + m * m) * D)
  out.set(src.subarray(0, D)) // [CLS]
  const ty = taps(n, m)
  const tx = taps(n, m)
  const at = (y: number, x: number, d: number): number => src[(1 + y * n + x) * D + d]
  for (let oy = 0; oy < m; oy++) {
    for (let ox = 0; ox < m; ox++) {
      for (let d = 0; d < D; d++) {
        let v = 0
        for (let a = 0; a < 4; a++) {
          let row = 0
          for (let b = 0; b < 4; b++) row += tx[ox].w[b] * at(ty[oy].idx[a], tx[ox].idx[b], d)
          v += ty[oy].w[a] * row
        }
        out[(1 + oy * m + ox) * D + d] = v
      }
    }
  }
  return { dtype: 'float32', shape: [1, 1 + m * m, D], data: out }
}
