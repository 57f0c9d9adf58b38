/**
 * What the compression keeps, measured against the objects' pixels: for held-out
 * shapes-world images with masks (`cmga data shapes --masks`), the share of each
 * object's pixels that lie in patches still kept as themselves at the last compression
 * layer under `joint` guidance by the image's own caption (the patches `cmga explain`
 * draws as kept). A patch absorbed into a fused token counts as dropped, even when that
 * fused token is itself kept.
 * @since 0.1.0
 */
import { join } from 'node:path'
import * as E from 'fp-ts/lib/Either.js'
import sharp from 'sharp'
import type { CmgaError } from '../../compiler/errors.js'
import { cmgaError } from '../../compiler/errors.js'
import type { CmgaModel } from '../cmga/model.js'
import type { LayerPatches } from '../explain/patches.js'
import { explainImage } from '../explain/run.js'
import { readAnnotations } from '../retrieval/annotations.js'

/** The measurement over a set of images. */
export interface Coverage {
  readonly images: number
  /** Mean over images and their two objects of the kept share of the object's pixels. */
  readonly mean: number
  /** The smallest per-image mean. */
  readonly worst: number
  /** Share of images where both objects are at least 90% kept. */
  readonly atLeast90: number
  /** Kept patches at the last layer over all patches (the compression actually applied). */
  readonly keptShare: number
}

/** Patches that are still individual tokens after `layer`. */
export const singlyKept = (layer: LayerPatches): Set<number> => new Set(layer.kept.filter((c) => c.patches.length === 1).map((c) => c.patches[0]))

/** Kept share of each object's pixels (mask values 1 and 2) for one image. */
export const objectShares = (mask: Uint8Array, size: number, patch: number, kept: ReadonlySet<number>): [number, number] => {
  const grid = size / patch
  const count = [0, 0]
  const inKept = [0, 0]
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const m = mask[y * size + x]
      if (m !== 1 && m !== 2) continue
      count[m - 1]++
      if (kept.has(Math.floor(y / patch) * grid + Math.floor(x / patch))) inKept[m - 1]++
    }
  }
  return [count[0] === 0 ? 1 : inKept[0] / count[0], count[1] === 0 ? 1 : inKept[1] / count[1]]
}

/** Measures `model` on the first `count` images of a set written with `--masks`. */
export const measureCoverage = async (model: CmgaModel, setDir: string, count: number, onProgress?: (done: number, total: number) => void): Promise<E.Either<CmgaError, Coverage>> => {
  const c = model.manifest.config
  const layers = c.compression.layers
  if (layers.length === 0) return E.left(cmgaError('input', 'the model has no compression layers'))
  const set = readAnnotations(join(setDir, 'annotations.json'), 'test')
  if (E.isLeft(set)) return set
  const { images, texts, imageTexts } = set.right
  const S = c.vision.imageSize
  const perImage: number[] = []
  let both90 = 0
  let keptShare = 0
  const n = Math.min(count, images.length)
  for (let i = 0; i < n; i++) {
    const image = join(setDir, images[i])
    const maskFile = join(setDir, images[i].replace(/^images\//, 'masks/'))
    const r = await explainImage({ model, image, text: texts[imageTexts[i][0]] })()
    if (E.isLeft(r)) return r
    const raw = await sharp(maskFile).extractChannel(0).raw().toBuffer({ resolveWithObject: true })
    if (raw.info.width !== S || raw.info.height !== S) return E.left(cmgaError('input', `${maskFile}: ${raw.info.width}x${raw.info.height}, the model takes ${S}x${S}`))
    const last = r.right.explanation.joint[r.right.explanation.joint.length - 1]
    const kept = singlyKept(last)
    const [a, b] = objectShares(new Uint8Array(raw.data), S, c.vision.patchSize, kept)
    perImage.push((a + b) / 2)
    if (a >= 0.9 && b >= 0.9) both90++
    keptShare += kept.size / (S / c.vision.patchSize) ** 2
    onProgress?.(i + 1, n)
  }
  return E.right({
    images: n,
    mean: perImage.reduce((s, x) => s + x, 0) / n,
    worst: Math.min(...perImage),
    atLeast90: both90 / n,
    keptShare: keptShare / n
  })
}
