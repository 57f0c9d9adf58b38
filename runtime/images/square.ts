/**
 * From a decoded RGB image to the S x S square the model sees: ALBEF's
 * `resize((S, S), filter)` (aspect ratio not kept), or torchvision's `Resize(S)` +
 * `CenterCrop(S)` on a PIL image (shorter side to S, the longer one to
 * `int(S * long / short)`, then the centre S x S, its offset rounded half to even as
 * Python's `round` does). Mirroring left-right (training augmentation) comes last.
 * @since 0.1.0
 */
import type { RgbImage } from './convert.js'
import type { ResampleFilter, ResampleKernel } from './resample.js'
import { resample } from './resample.js'

// -------------------------------------------------------------------------------------
// model
// -------------------------------------------------------------------------------------

/** How an image becomes S x S. */
export interface SquareOptions {
  /** Pillow's filter (default bicubic, spec section 8). */
  readonly resample?: ResampleFilter
  /** torchvision's Resize(S) + CenterCrop(S) instead of a resize to S x S. Default false. */
  readonly centerCrop?: boolean
  /** Mirror left-right at the end. Default false. */
  readonly flip?: boolean
  /** Mirror top-bottom at the end. Default false. */
  readonly flipVertical?: boolean
  /** Which resampler computes it (same bytes either way); default the fastest this engine runs. */
  readonly kernel?: ResampleKernel
}

// -------------------------------------------------------------------------------------
// geometry
// -------------------------------------------------------------------------------------

/** Python 3's `round(x)`: to the nearest integer, halves to the even one. */
export const roundHalfEven = (x: number): number => {
  const r = Math.round(x)
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r
}

/** torchvision's `Resize(S)` size for a PIL image: the shorter side S, the longer truncated. */
export const shorterSideTo = (width: number, height: number, size: number): readonly [number, number] =>
  width <= height ? [size, Math.trunc((size * height) / width)] : [Math.trunc((size * width) / height), size]

/** torchvision's `CenterCrop(S)` offsets (left, top) in a width x height image. */
export const centerCropOffsets = (width: number, height: number, size: number): readonly [number, number] => [roundHalfEven((width - size) / 2), roundHalfEven((height - size) / 2)]

/** Interleaved RGB mirrored left-right, in place. */
const flipRows = (rgb: Uint8Array, width: number, height: number): void => {
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width >> 1; x++) {
      const a = 3 * (y * width + x)
      const b = 3 * (y * width + width - 1 - x)
      for (let c = 0; c < 3; c++) {
        const t = rgb[a + c]
        rgb[a + c] = rgb[b + c]
        rgb[b + c] = t
      }
    }
  }
}

/** Interleaved RGB mirrored top-bottom, in place. */
const flipTopBottom = (rgb: Uint8Array, width: number, height: number): void => {
  const row = 3 * width
  const t = new Uint8Array(row)
  for (let y = 0; y < height >> 1; y++) {
    const a = y * row
    const b = (height - 1 - y) * row
    t.set(rgb.subarray(a, a + row))
    rgb.copyWithin(a, b, b + row)
    rgb.set(t, b)
  }
}

/** A decoded image -> interleaved RGB [S, S, 3], as PIL (and torchvision, with centerCrop) make it. */
export const squareRgb = (img: RgbImage, size: number, opts: SquareOptions = {}): Uint8Array => {
  const filter = opts.resample ?? 'bicubic'
  let out: Uint8Array
  if (opts.centerCrop === true) {
    const [w, h] = shorterSideTo(img.width, img.height, size)
    const resized = resample(img.rgb, img.width, img.height, 3, w, h, filter, opts.kernel)
    const [left, top] = centerCropOffsets(w, h, size)
    out = new Uint8Array(size * size * 3)
    for (let y = 0; y < size; y++) out.set(resized.subarray(3 * ((top + y) * w + left), 3 * ((top + y) * w + left + size)), 3 * y * size)
  } else {
    out = resample(img.rgb, img.width, img.height, 3, size, size, filter, opts.kernel)
  }
  return mirrorInPlace(out, size, opts)
}

/** An S x S interleaved RGB square mirrored as `opts` asks (left-right, then top-bottom), in place; returns it. */
export const mirrorInPlace = (rgb: Uint8Array, size: number, opts: Pick<SquareOptions, 'flip' | 'flipVertical'>): Uint8Array => {
  if (opts.flip === true) flipRows(rgb, size, size)
  if (opts.flipVertical === true) flipTopBottom(rgb, size, size)
  return rgb
}
