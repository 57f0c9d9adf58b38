/**
 * Spec section 8, one image: decode with sharp (JPEG, PNG, WebP, and whatever else
 * libvips reads), RGB, bicubic resize to S x S, scale to [0, 1], normalize per channel,
 * laid out [3, S, S] float32.
 *
 * Against PIL / torchvision (what ALBEF uses): sharp's `cubic` kernel is Catmull-Rom,
 * the same a = -0.5 cubic as PIL's BICUBIC, widened when downscaling as PIL does; JPEG
 * shrink-on-load is turned off so the decoder does not pre-shrink. libvips and PIL still
 * round their fixed-point passes differently, so single 8-bit values can differ by a
 * level or so (see README, "Runtime"). The float part (`/255`, `- mean`, `/ std`) is
 * done in float32 step by step exactly as torchvision's `ToTensor` + `Normalize`.
 * Like PIL's `Image.open(...).convert('RGB')`, EXIF orientation is not applied and an
 * alpha channel is dropped (not composited).
 * @since 0.1.0
 */
import { stat } from 'node:fs/promises'
import sharp from 'sharp'
import * as E from 'fp-ts/lib/Either.js'
import type { CmgaError } from '../../compiler/errors.js'
import { fail, readProblem } from '../../compiler/errors.js'
import type { HostTensor } from '../../compiler/ir/tensor.js'

// -------------------------------------------------------------------------------------
// model
// -------------------------------------------------------------------------------------

/** Per-channel mean of spec section 8 (CLIP's). */
export const IMAGE_MEAN: readonly [number, number, number] = [0.48145466, 0.4578275, 0.40821073]

/** Per-channel standard deviation of spec section 8 (CLIP's). */
export const IMAGE_STD: readonly [number, number, number] = [0.26862954, 0.26130258, 0.27577711]

/** Options of `loadImage`. */
export interface LoadImageOptions {
  /** Mirror left-right after resizing (training augmentation). Default false. */
  readonly flip?: boolean
}

/** Where an image comes from: a file path, or encoded bytes with a name for messages. */
export type ImageSource = string | { readonly name: string; readonly bytes: Uint8Array }

const nameOf = (src: ImageSource): string => (typeof src === 'string' ? src : src.name)

const message = (e: unknown): string => (e instanceof Error ? e.message : String(e))

// -------------------------------------------------------------------------------------
// pixels
// -------------------------------------------------------------------------------------

/**
 * Interleaved 8-bit RGB [S, S, 3] -> normalized planar float32 [3, S, S], computed as
 * torchvision does in float32: `x = v / 255`, then `(x - mean) / std`.
 */
export const normalizeRgb = (rgb: Uint8Array, size: number): Float32Array => {
  const plane = size * size
  if (rgb.length !== plane * 3) throw new RangeError(`normalizeRgb: ${rgb.length} bytes for ${size} x ${size} RGB`)
  const out = new Float32Array(3 * plane)
  const f = Math.fround
  for (let c = 0; c < 3; c++) {
    const mean = f(IMAGE_MEAN[c])
    const std = f(IMAGE_STD[c])
    // A table per channel: 256 possible values, each computed exactly once.
    const table = new Float32Array(256)
    for (let v = 0; v < 256; v++) table[v] = f(f(f(v / 255) - mean) / std)
    for (let p = 0; p < plane; p++) out[c * plane + p] = table[rgb[3 * p + c]]
  }
  return out
}

/** Decodes and resizes to interleaved RGB [S, S, 3] bytes, or says why it cannot. */
export const decodeRgb = async (src: ImageSource, size: number, opts: LoadImageOptions = {}): Promise<E.Either<CmgaError, Uint8Array>> => {
  const name = nameOf(src)
  if (typeof src === 'string') {
    try {
      const s = await stat(src)
      if (!s.isFile()) return fail('io', `${name}: ${s.isDirectory() ? 'is a directory, not a file' : 'not a file'}`)
    } catch (e) {
      return fail('io', `${name}: ${readProblem(e)}`)
    }
  }
  try {
    let img = sharp(typeof src === 'string' ? src : src.bytes, { failOn: 'truncated' })
      .toColourspace('srgb')
      .removeAlpha()
      .resize(size, size, { fit: 'fill', kernel: 'cubic', fastShrinkOnLoad: false })
    if (opts.flip === true) img = img.flop()
    const { data, info } = await img.raw().toBuffer({ resolveWithObject: true })
    if (info.channels !== 3 || info.width !== size || info.height !== size) {
      return fail('format', `${name}: decoded to ${info.width} x ${info.height} with ${info.channels} channels, expected ${size} x ${size} RGB`)
    }
    return E.right(new Uint8Array(data.buffer, data.byteOffset, data.byteLength))
  } catch (e) {
    return fail('format', `${name}: cannot decode image (${message(e).replace(/\s+/g, ' ').trim()})`)
  }
}

/** One image, preprocessed per spec section 8: float32 [3, size, size]. */
export const loadImage = async (path: ImageSource, size: number, opts: LoadImageOptions = {}): Promise<E.Either<CmgaError, HostTensor<'float32'>>> => {
  if (!Number.isInteger(size) || size < 1) return fail('input', `loadImage: size must be a positive integer, got ${size}`)
  const rgb = await decodeRgb(path, size, opts)
  return E.map((bytes: Uint8Array): HostTensor<'float32'> => ({ dtype: 'float32', shape: [3, size, size], data: normalizeRgb(bytes, size) }))(rgb)
}
