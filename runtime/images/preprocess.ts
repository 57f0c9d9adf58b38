/**
 * Spec section 8, one image, bit for bit as ALBEF's
 * `Image.open(f).convert('RGB').resize((S, S), Image.BICUBIC)`: decoded to the file's
 * own samples and converted as PIL converts them (decode.ts), resampled by Pillow's
 * algorithm (resample.ts), then scaled to [0, 1] and normalized per channel, laid
 * out [3, S, S] float32. The float part (`/255`, `- mean`, `/ std`) is done in float32
 * step by step exactly as torchvision's `ToTensor` + `Normalize`. Options: BILINEAR
 * instead of BICUBIC, torchvision's Resize(S) + CenterCrop(S) instead of a plain
 * resize, and a left-right mirror (training augmentation).
 * @since 0.1.0
 */
import { readFile, stat } from 'node:fs/promises'
import * as E from 'fp-ts/lib/Either.js'
import type { CmgaError } from '../../compiler/errors.js'
import { fail, readProblem } from '../../compiler/errors.js'
import type { HostTensor } from '../../compiler/ir/tensor.js'
import { decodeImage } from './decode.js'
import type { SquareOptions } from './square.js'
import { mirrorInPlace, squareRgb } from './square.js'
import type { RgbCache } from './rgb-cache.js'

// -------------------------------------------------------------------------------------
// model
// -------------------------------------------------------------------------------------

/** Per-channel mean of spec section 8 (CLIP's). */
export const IMAGE_MEAN: readonly [number, number, number] = [0.48145466, 0.4578275, 0.40821073]

/** Per-channel standard deviation of spec section 8 (CLIP's). */
export const IMAGE_STD: readonly [number, number, number] = [0.26862954, 0.26130258, 0.27577711]

/**
 * Options of `loadImage`: the filter (default bicubic), torchvision's centre crop
 * (default off), a left-right mirror after resizing (training augmentation), and a
 * cache of decoded files (the same pixels, decoded once).
 */
export type LoadImageOptions = SquareOptions & { readonly cache?: RgbCache }

/** Where an image comes from: a file path, or encoded bytes with a name for messages. */
export type ImageSource = string | { readonly name: string; readonly bytes: Uint8Array }

const nameOf = (src: ImageSource): string => (typeof src === 'string' ? src : src.name)

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

/**
 * Decodes and resizes to interleaved RGB [S, S, 3] bytes (PIL's pixels, see the module
 * comment), or says why it cannot.
 */
export const decodeRgb = async (src: ImageSource, size: number, opts: LoadImageOptions = {}): Promise<E.Either<CmgaError, Uint8Array>> => {
  const name = nameOf(src)
  if (!Number.isInteger(size) || size < 1) return fail('input', `${name}: size must be a positive integer, got ${size}`)
  let bytes: Uint8Array
  if (typeof src === 'string') {
    try {
      const s = await stat(src)
      if (!s.isFile()) return fail('io', `${name}: ${s.isDirectory() ? 'is a directory, not a file' : 'not a file'}`)
      bytes = await readFile(src)
    } catch (e) {
      return fail('io', `${name}: ${readProblem(e)}`)
    }
  } else {
    bytes = src.bytes
  }
  const img = await decodeImage(bytes)
  if (E.isLeft(img)) return fail('format', `${name}: cannot decode image (${img.left})`)
  return E.right(squareRgb(img.right, size, opts))
}

/**
 * `decodeRgb` through a cache: a file's square unmirrored, decoded once, then a mirrored
 * copy where `opts` asks (the same bytes as decoding it mirrored: the mirror comes last).
 */
const cachedRgb = async (path: string, size: number, opts: LoadImageOptions, cache: RgbCache): Promise<E.Either<CmgaError, Uint8Array>> => {
  const key = `${size} ${opts.resample ?? 'bicubic'} ${opts.centerCrop === true ? 'crop' : 'resize'} ${path}`
  let rgb = cache.get(key)
  if (rgb === undefined) {
    const decoded = await decodeRgb(path, size, { ...opts, flip: false, flipVertical: false })
    if (E.isLeft(decoded)) return decoded
    rgb = decoded.right
    cache.add(key, rgb)
  }
  return E.right(opts.flip === true || opts.flipVertical === true ? mirrorInPlace(rgb.slice(), size, opts) : rgb)
}

/** One image, preprocessed per spec section 8: float32 [3, size, size]. */
export const loadImage = async (path: ImageSource, size: number, opts: LoadImageOptions = {}): Promise<E.Either<CmgaError, HostTensor<'float32'>>> => {
  if (!Number.isInteger(size) || size < 1) return fail('input', `loadImage: size must be a positive integer, got ${size}`)
  const rgb = opts.cache !== undefined && typeof path === 'string' ? await cachedRgb(path, size, opts, opts.cache) : await decodeRgb(path, size, opts)
  return E.map((bytes: Uint8Array): HostTensor<'float32'> => ({ dtype: 'float32', shape: [3, size, size], data: normalizeRgb(bytes, size) }))(rgb)
}
