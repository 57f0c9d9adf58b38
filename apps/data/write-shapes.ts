/**
 * Writes a shapes-world set (apps/data/shapes-world.ts) to a directory:
 *   images/NNNNN.png   8-bit RGB PNG (sharp)
 *   annotations.json   ALBEF format: [{"image": "images/00000.png", "caption": ["..."]}]
 *   vocab.txt          the 20 vocabulary entries, one a line, in the spec's order
 * and with masks:
 *   masks/NNNNN.png    8-bit grey PNG: 0 background, 1 object 1, 2 object 2
 *   objects.json       one entry per image: its scene's structured fields
 * Everything is written into a hidden temporary directory beside the target and renamed
 * onto it at the end, so the target is never half-written.
 * @since 0.1.0
 */
import { existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { basename, dirname, join, resolve } from 'node:path'
import * as E from 'fp-ts/lib/Either.js'
import sharp from 'sharp'
import type { CmgaError } from '../../compiler/errors.js'
import { cmgaError, fail } from '../../compiler/errors.js'
import type { ShapesSample } from './shapes-world.js'
import { shapesSamples, VOCAB } from './shapes-world.js'

/** What to write. */
export interface WriteShapesOptions {
  readonly out: string
  readonly count: number
  readonly seed: number
  readonly size: number
  readonly masks: boolean
  /** Replace an existing `out`. */
  readonly force: boolean
  /** Called after each image with (done, total). */
  readonly onProgress?: (done: number, total: number) => void
}

/** The largest set: image names have five digits. */
export const MAX_COUNT = 100000

/** `images/00042.png` for index 42. */
export const imageName = (i: number): string => `images/${String(i).padStart(5, '0')}.png`
/** `masks/00042.png` for index 42. */
export const maskName = (i: number): string => `masks/${String(i).padStart(5, '0')}.png`

/** The grey label image of a sample's masks: 0 background, 1 object 1, 2 object 2. */
export const labelImage = (s: ShapesSample): Uint8Array => {
  const [m1, m2] = s.masks
  const out = new Uint8Array(m1.length)
  for (let p = 0; p < out.length; p++) out[p] = m2[p] === 1 ? 2 : m1[p] === 1 ? 1 : 0
  return out
}

/** A sample's entry in objects.json. */
export const objectEntry = (i: number, s: ShapesSample) => ({
  image: imageName(i),
  mask: maskName(i),
  caption: s.caption,
  ...s.scene
})

/** A JSON array with one element a line. */
const jsonLines = (xs: readonly unknown[]): string => (xs.length === 0 ? '[]\n' : `[\n${xs.map((x) => JSON.stringify(x)).join(',\n')}\n]\n`)

const png = (data: Uint8Array, size: number, channels: 1 | 3, file: string): Promise<unknown> =>
  (channels === 1
    ? sharp(Buffer.from(data.buffer, data.byteOffset, data.byteLength), { raw: { width: size, height: size, channels } }).toColourspace('b-w')
    : sharp(Buffer.from(data.buffer, data.byteOffset, data.byteLength), { raw: { width: size, height: size, channels } })
  )
    .png()
    .toFile(file)

/** Writes the set; a Left for an existing `out` (without `force`) or a file-system failure. */
export const writeShapesSet = async (o: WriteShapesOptions): Promise<E.Either<CmgaError, { readonly out: string; readonly count: number }>> => {
  const out = resolve(o.out)
  if (existsSync(out) && !o.force) return fail('usage', `--out ${o.out} already exists (use --force to replace it)`)
  const parent = dirname(out)
  const tmp = join(parent, `.${basename(out)}.tmp-${process.pid}-${Date.now().toString(36)}`)
  try {
    mkdirSync(join(tmp, 'images'), { recursive: true })
    if (o.masks) mkdirSync(join(tmp, 'masks'))
    const annotations: Array<{ image: string; caption: string[] }> = []
    const objects: Array<ReturnType<typeof objectEntry>> = []
    let pending: Array<Promise<unknown>> = []
    let i = 0
    for (const s of shapesSamples(o.seed, o.count, o.size)) {
      annotations.push({ image: imageName(i), caption: [s.caption] })
      pending.push(png(s.pixels, o.size, 3, join(tmp, imageName(i))))
      if (o.masks) {
        objects.push(objectEntry(i, s))
        pending.push(png(labelImage(s), o.size, 1, join(tmp, maskName(i))))
      }
      i++
      if (pending.length >= 16) {
        await Promise.all(pending)
        pending = []
      }
      o.onProgress?.(i, o.count)
    }
    await Promise.all(pending)
    writeFileSync(join(tmp, 'annotations.json'), jsonLines(annotations))
    writeFileSync(join(tmp, 'vocab.txt'), VOCAB.join('\n') + '\n')
    if (o.masks) writeFileSync(join(tmp, 'objects.json'), jsonLines(objects))
    if (existsSync(out)) {
      // --force: move the old one aside first, so out is always either old or new
      const old = join(parent, `.${basename(out)}.old-${process.pid}-${Date.now().toString(36)}`)
      renameSync(out, old)
      renameSync(tmp, out)
      rmSync(old, { recursive: true, force: true })
    } else renameSync(tmp, out)
    return E.right({ out, count: o.count })
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true })
    return E.left(cmgaError('io', `cannot write the shapes set to ${o.out}: ${(e as Error).message}`))
  }
}
