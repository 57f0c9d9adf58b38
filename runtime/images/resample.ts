/**
 * Pillow's resampling (`Image.resize` with BICUBIC or BILINEAR on an 8-bit image),
 * written again in TypeScript so the bytes come out identical: two separable passes,
 * horizontal first, each output pixel a weighted sum over the input pixels under the
 * filter; the filter is widened by the scale when shrinking; the weights of one output
 * pixel are normalised to sum 1 in float64, then turned into fixed point with 22
 * fractional bits (rounded half away from zero); a sum starts at one half and is
 * clipped to 0..255 after the shift. A pass whose size does not change is skipped
 * (Pillow copies then), so the intermediate image is rounded to 8 bits exactly where
 * Pillow rounds it.
 *
 * Channels are independent, so interleaved RGB gives what Pillow gives for its RGBX
 * layout. Sums are integers below 2^31, so their order does not matter.
 *
 * Two kernels compute the passes: for RGB, WebAssembly SIMD (resample-wasm.ts, with
 * the same weights split into 16-bit halves, exact for the reason given there), and
 * the TypeScript passes below for other channel counts, engines without WebAssembly
 * SIMD and resizes too large for the module's memory. Both give the same bytes
 * (test/resample-wasm.test.ts; both run on the Pillow fixtures).
 * @since 0.1.0
 */

import { resampleRgbSimd, simdKernels } from './resample-wasm.js'

// -------------------------------------------------------------------------------------
// model
// -------------------------------------------------------------------------------------

/** The resampling filters matched to Pillow: `Image.BICUBIC` and `Image.BILINEAR`. */
export type ResampleFilter = 'bicubic' | 'bilinear'

/** Every filter, in help order. */
export const RESAMPLE_FILTERS: readonly ResampleFilter[] = ['bicubic', 'bilinear']

/** Fractional bits of the fixed-point weights (32 - 8 - 2, as Pillow: 8 for the value, 2 for overshoot). */
export const PRECISION_BITS = 22

/** The weights of one pass: for output pixel i, `count[i]` taps from input `first[i]`, at `weights[i * taps ..]`. */
export interface Coefficients {
  readonly first: Int32Array
  readonly count: Int32Array
  /** Fixed-point weights, `taps` per output pixel (the unused tail is zero). */
  readonly weights: Int32Array
  readonly taps: number
}

interface Kernel {
  readonly support: number
  readonly at: (x: number) => number
}

/** Keys' cubic with a = -0.5 (Catmull-Rom), written in the same operation order as Pillow. */
const bicubic = (x: number): number => {
  const a = -0.5
  const t = x < 0 ? -x : x
  if (t < 1) return ((a + 2) * t - (a + 3)) * t * t + 1
  if (t < 2) return (((t - 5) * t + 8) * t - 4) * a
  return 0
}

const bilinear = (x: number): number => {
  const t = x < 0 ? -x : x
  return t < 1 ? 1 - t : 0
}

const KERNELS: { readonly [K in ResampleFilter]: Kernel } = {
  bicubic: { support: 2, at: bicubic },
  bilinear: { support: 1, at: bilinear }
}

// -------------------------------------------------------------------------------------
// coefficients
// -------------------------------------------------------------------------------------

/**
 * The fixed-point weights of resizing `inSize` pixels to `outSize` along one axis
 * (Pillow's `precompute_coeffs` then `normalize_coeffs_8bpc`, for the whole image as
 * the box): float64 throughout, bounds truncated toward zero as C's `(int)` does.
 */
export const coefficients = (inSize: number, outSize: number, filter: ResampleFilter): Coefficients => {
  const kernel = KERNELS[filter]
  const scale = inSize / outSize
  const filterScale = scale < 1 ? 1 : scale
  const support = kernel.support * filterScale
  const taps = Math.ceil(support) * 2 + 1
  const inverse = 1 / filterScale
  const first = new Int32Array(outSize)
  const count = new Int32Array(outSize)
  const weights = new Int32Array(outSize * taps)
  const k = new Float64Array(taps)
  const one = 1 << PRECISION_BITS
  for (let i = 0; i < outSize; i++) {
    const center = (i + 0.5) * scale
    const lo = Math.max(0, Math.trunc(center - support + 0.5))
    const n = Math.min(inSize, Math.trunc(center + support + 0.5)) - lo
    let sum = 0
    for (let x = 0; x < n; x++) {
      k[x] = kernel.at((x + lo - center + 0.5) * inverse)
      sum += k[x]
    }
    for (let x = 0; x < n; x++) {
      const w = sum !== 0 ? k[x] / sum : k[x]
      weights[i * taps + x] = w < 0 ? Math.trunc(-0.5 + w * one) : Math.trunc(0.5 + w * one)
    }
    first[i] = lo
    count[i] = Math.max(0, n)
  }
  return { first, count, weights, taps }
}

// -------------------------------------------------------------------------------------
// passes
// -------------------------------------------------------------------------------------

const HALF = 1 << (PRECISION_BITS - 1)

/** A fixed-point sum back to 8 bits: shift, then clip to 0..255. */
const clip8 = (s: number): number => {
  const v = s >> PRECISION_BITS
  return v < 0 ? 0 : v > 255 ? 255 : v
}

/**
 * Four RGB rows at once, resampled along x: each weight is loaded once for twelve
 * multiply-adds (measured 2 to 3 times faster than a row at a time in V8).
 */
const horizontalRgb4 = (src: Uint8Array, rowIn: number, base: number, out: Uint8Array, rowOut: number, o: number, c: Coefficients): void => {
  const { first, count, weights, taps } = c
  const r2 = 2 * rowIn
  const r3 = 3 * rowIn
  for (let i = 0; i < first.length; i++) {
    let a0 = HALF, a1 = HALF, a2 = HALF, b0 = HALF, b1 = HALF, b2 = HALF
    let c0 = HALF, c1 = HALF, c2 = HALF, d0 = HALF, d1 = HALF, d2 = HALF
    let p = base + first[i] * 3
    const end = i * taps + count[i]
    for (let t = i * taps; t < end; t++, p += 3) {
      const w = weights[t]
      a0 += src[p] * w
      a1 += src[p + 1] * w
      a2 += src[p + 2] * w
      b0 += src[p + rowIn] * w
      b1 += src[p + rowIn + 1] * w
      b2 += src[p + rowIn + 2] * w
      c0 += src[p + r2] * w
      c1 += src[p + r2 + 1] * w
      c2 += src[p + r2 + 2] * w
      d0 += src[p + r3] * w
      d1 += src[p + r3 + 1] * w
      d2 += src[p + r3 + 2] * w
    }
    const q = o + i * 3
    out[q] = clip8(a0)
    out[q + 1] = clip8(a1)
    out[q + 2] = clip8(a2)
    out[q + rowOut] = clip8(b0)
    out[q + rowOut + 1] = clip8(b1)
    out[q + rowOut + 2] = clip8(b2)
    out[q + 2 * rowOut] = clip8(c0)
    out[q + 2 * rowOut + 1] = clip8(c1)
    out[q + 2 * rowOut + 2] = clip8(c2)
    out[q + 3 * rowOut] = clip8(d0)
    out[q + 3 * rowOut + 1] = clip8(d1)
    out[q + 3 * rowOut + 2] = clip8(d2)
  }
}

/** One row of any channel count, resampled along x. */
const horizontalRow = (src: Uint8Array, channels: number, base: number, out: Uint8Array, o: number, c: Coefficients): void => {
  const { first, count, weights, taps } = c
  for (let i = 0; i < first.length; i++) {
    for (let ch = 0; ch < channels; ch++) {
      let s = HALF
      let p = base + first[i] * channels + ch
      const end = i * taps + count[i]
      for (let t = i * taps; t < end; t++, p += channels) s += src[p] * weights[t]
      out[o + i * channels + ch] = clip8(s)
    }
  }
}

/** Rows `[y0, y0 + rows)` of an interleaved image `width` wide, resampled along x. */
const horizontal = (src: Uint8Array, width: number, channels: number, y0: number, rows: number, c: Coefficients): Uint8Array => {
  const rowIn = width * channels
  const rowOut = c.first.length * channels
  const out = new Uint8Array(rowOut * rows)
  let y = 0
  if (channels === 3) for (; y + 4 <= rows; y += 4) horizontalRgb4(src, rowIn, (y0 + y) * rowIn, out, rowOut, y * rowOut, c)
  for (; y < rows; y++) horizontalRow(src, channels, (y0 + y) * rowIn, out, y * rowOut, c)
  return out
}

/** An interleaved image `height` rows high, resampled along y (`c.first` relative to row `y0`). */
const vertical = (src: Uint8Array, width: number, channels: number, y0: number, c: Coefficients): Uint8Array => {
  const outH = c.first.length
  const row = width * channels
  const out = new Uint8Array(outH * row)
  const { first, count, weights, taps } = c
  const acc = new Int32Array(row)
  for (let j = 0; j < outH; j++) {
    acc.fill(HALF)
    const kStart = j * taps
    for (let t = 0; t < count[j]; t++) {
      const w = weights[kStart + t]
      const base = (first[j] - y0 + t) * row
      for (let x = 0; x < row; x++) acc[x] += src[base + x] * w
    }
    const o = j * row
    for (let x = 0; x < row; x++) out[o + x] = clip8(acc[x])
  }
  return out
}

// -------------------------------------------------------------------------------------
// resizing
// -------------------------------------------------------------------------------------

/** Who computes a resize: the WebAssembly SIMD kernels (RGB only) or the TypeScript passes above. */
export type ResampleKernel = 'wasm-simd' | 'scalar'

/** The kernel `resample` uses for images of `channels` channels on this engine. */
export const resampleKernel = (channels: number): ResampleKernel => (channels === 3 && simdKernels() !== null ? 'wasm-simd' : 'scalar')

/**
 * Resizes an interleaved 8-bit image (`channels` per pixel) from `width` x `height` to
 * `outWidth` x `outHeight` exactly as Pillow's `Image.resize((outWidth, outHeight), filter)`
 * does for an RGB (or L) image. Returns a new array (a copy when the size is unchanged).
 * Both kernels give the same bytes; `kernel` (default `resampleKernel(channels)`) picks
 * one, and asking for `wasm-simd` where it cannot run is an error.
 */
export const resample = (
  src: Uint8Array,
  width: number,
  height: number,
  channels: number,
  outWidth: number,
  outHeight: number,
  filter: ResampleFilter,
  kernel: ResampleKernel = resampleKernel(channels)
): Uint8Array => {
  if (src.length !== width * height * channels) throw new RangeError(`resample: ${src.length} bytes for ${width} x ${height} x ${channels}`)
  if (!(outWidth >= 1 && outHeight >= 1)) throw new RangeError(`resample: output ${outWidth} x ${outHeight}`)
  if (kernel === 'wasm-simd' && resampleKernel(channels) !== 'wasm-simd') throw new RangeError(`resample: no wasm-simd kernel for ${channels} channels on this engine`)
  const needX = outWidth !== width
  const needY = outHeight !== height
  const cy = coefficients(height, outHeight, filter)
  if (!needX && !needY) return src.slice()
  const cx = needX ? coefficients(width, outWidth, filter) : null
  const k = simdKernels()
  const fast = kernel === 'wasm-simd' && k !== null ? resampleRgbSimd(k, src, width, height, cx, needY ? cy : null) : undefined
  if (fast !== undefined) return fast
  if (cx === null) return vertical(src, width, channels, 0, cy)
  if (!needY) return horizontal(src, width, channels, 0, height, cx)
  // Only the rows the vertical pass reads are resampled horizontally, as Pillow does.
  const y0 = cy.first[0]
  const y1 = cy.first[outHeight - 1] + cy.count[outHeight - 1]
  return vertical(horizontal(src, width, channels, y0, y1 - y0, cx), outWidth, channels, y0, cy)
}
