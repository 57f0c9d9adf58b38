/**
 * Many images at once: listing a folder's images, and loading a list into one batch
 * [B, 3, S, S], with an unreadable image either skipped (and reported by name) or
 * failing the whole batch, as the caller chooses.
 * @since 0.1.0
 */
import { readdir, stat } from 'node:fs/promises'
import { join, relative, sep } from 'node:path'
import * as E from 'fp-ts/lib/Either.js'
import type { CmgaError } from '../../compiler/errors.js'
import { fail } from '../../compiler/errors.js'
import type { HostTensor } from '../../compiler/ir/tensor.js'
import { DECODED_EXTENSIONS } from './decode.js'
import type { ImageSource } from './preprocess.js'
import type { RgbCache } from './rgb-cache.js'
import { loadImage } from './preprocess.js'

// -------------------------------------------------------------------------------------
// model
// -------------------------------------------------------------------------------------

/** What to do with an image that cannot be read or decoded. */
export type OnImageError = 'skip' | 'fail'

/** Options of `loadImages`. */
export interface LoadImagesOptions {
  /** 'fail': the first bad image (in list order) fails the batch; 'skip': it is left out and reported. */
  readonly onError: OnImageError
  /** Which images to mirror left-right (training augmentation); default none. */
  readonly flip?: (index: number) => boolean
  /** Which images to mirror top-bottom (training augmentation); default none. */
  readonly flipVertical?: (index: number) => boolean
  /** Images decoded at once (default 4). */
  readonly concurrency?: number
  /** Decoded files kept for the next call (training's epochs); default none. */
  readonly cache?: RgbCache
}

/** An image left out of a batch, and why. */
export interface SkippedImage {
  readonly index: number
  readonly name: string
  readonly reason: string
}

/** A loaded batch: `pixels[b]` is the image `indices[b]` of the request. */
export interface LoadedImages {
  /** float32 [B, 3, S, S] (B may be 0 when every image was skipped). */
  readonly pixels: HostTensor<'float32'>
  /** For each row of `pixels`, its index in the requested list. */
  readonly indices: readonly number[]
  readonly skipped: readonly SkippedImage[]
}

/** File name endings `listImages` picks up (case-insensitive): every format decoded (as PIL reads them). */
export const IMAGE_EXTENSIONS: readonly string[] = DECODED_EXTENSIONS

// -------------------------------------------------------------------------------------
// listing
// -------------------------------------------------------------------------------------

const isImageName = (name: string): boolean => IMAGE_EXTENSIONS.some((x) => name.toLowerCase().endsWith(x))

/**
 * Every image file under `folder` (recursively, hidden entries skipped), as paths
 * relative to it with '/' separators, sorted. A missing folder or one with no image is
 * an error.
 */
export const listImages = async (folder: string): Promise<E.Either<CmgaError, readonly string[]>> => {
  try {
    const s = await stat(folder)
    if (!s.isDirectory()) return fail('io', `${folder} is not a folder`)
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code
    return fail('io', `image folder ${folder}: ${code === 'ENOENT' ? 'no such folder' : `cannot read (${code ?? String(e)})`}`)
  }
  const found: string[] = []
  const walk = async (dir: string): Promise<void> => {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      if (entry.name.startsWith('.')) continue
      const path = join(dir, entry.name)
      if (entry.isDirectory()) await walk(path)
      else if (entry.isFile() && isImageName(entry.name)) found.push(relative(folder, path).split(sep).join('/'))
    }
  }
  try {
    await walk(folder)
  } catch (e) {
    return fail('io', `cannot list ${folder}: ${(e as Error).message}`)
  }
  if (found.length === 0) return fail('input', `no images in ${folder} (looked for ${IMAGE_EXTENSIONS.join(', ')} files)`)
  return E.right(found.sort())
}

/** `listImages`, each name joined to `folder` (a path to open). */
export const listImagePaths = async (folder: string): Promise<E.Either<CmgaError, readonly string[]>> =>
  E.map((names: readonly string[]) => names.map((n) => join(folder, n)))(await listImages(folder))

// -------------------------------------------------------------------------------------
// loading
// -------------------------------------------------------------------------------------

/** Runs `f` over `items` with at most `limit` in flight, keeping results in order. */
export const mapLimit = async <A, B>(items: readonly A[], limit: number, f: (a: A, i: number) => Promise<B>): Promise<B[]> => {
  const out = new Array<B>(items.length)
  let next = 0
  const lane = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++
      out[i] = await f(items[i], i)
    }
  }
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, lane))
  return out
}

/**
 * Loads images into one batch float32 [B, 3, size, size] (spec section 8). With
 * `onError: 'fail'` the first bad image in list order is the error; with 'skip' bad
 * images are left out and listed in `skipped`.
 */
export const loadImages = async (paths: readonly ImageSource[], size: number, opts: LoadImagesOptions): Promise<E.Either<CmgaError, LoadedImages>> => {
  const results = await mapLimit(paths, opts.concurrency ?? 4, (p, i) => loadImage(p, size, { flip: opts.flip?.(i) ?? false, flipVertical: opts.flipVertical?.(i) ?? false, ...(opts.cache === undefined ? {} : { cache: opts.cache }) }))
  const plane = 3 * size * size
  const indices: number[] = []
  const skipped: SkippedImage[] = []
  for (const [i, r] of results.entries()) {
    if (E.isRight(r)) indices.push(i)
    else if (opts.onError === 'fail') return E.left(r.left)
    else skipped.push({ index: i, name: typeof paths[i] === 'string' ? paths[i] : paths[i].name, reason: r.left.message })
  }
  const data = new Float32Array(indices.length * plane)
  indices.forEach((i, b) => data.set((results[i] as E.Right<HostTensor<'float32'>>).right.data, b * plane))
  return E.right({ pixels: { dtype: 'float32', shape: [indices.length, 3, size, size], data }, indices, skipped })
}
