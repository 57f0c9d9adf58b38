/**
 * `cmga preprocess`: the exact pixels the model sees, written to safetensors, to compare
 * with Python (PIL / torchvision) preprocessing.
 * @since 0.1.0
 */
import { statSync } from 'node:fs'
import * as E from 'fp-ts/lib/Either.js'
import { pipe } from 'fp-ts/lib/function.js'
import type { CmgaError } from '../../compiler/errors.js'
import { fail } from '../../compiler/errors.js'
import type { HostTensor } from '../../compiler/ir/tensor.js'
import type { ResampleFilter } from '../../runtime/images/index.js'
import { IMAGE_MEAN, IMAGE_STD, RESAMPLE_FILTERS, decodeRgb, listImagePaths, mapLimit, normalizeRgb } from '../../runtime/images/index.js'
import { writeSafetensorsAtomic } from '../../runtime/safetensors/index.js'
import type { Command, Values } from '../command.js'
import { integer, oneOf, repeated, requiredOutput } from '../command.js'

const help = `Usage: cmga preprocess --images FILE|FOLDER [--images ...] --size S --out PIXELS.safetensors
                       [--resample bicubic|bilinear] [--center-crop] [--raw] [--force]

Writes the pixels the model sees for each image, bit-identical to Python's
  Image.open(f).convert('RGB').resize((S, S), Image.BICUBIC)   (ALBEF, spec section 8)
then ToTensor + Normalize(CLIP mean, std) in float32: tensor "pixels", float32
[B,3,S,S], ready for cmga infer. With --raw: the 8-bit RGB pixels, uint8 [B,S,S,3]
(np.asarray of the PIL image). The file names, in batch order, are in the metadata
("files", a JSON list), with the size, filter and crop.

  --images FILE|FOLDER  an image (jpg, jpeg, png, webp, gif, bmp, tif, tiff), or a
                        folder of them (sub-folders too, sorted); repeat for more
  --size S              output side in pixels
  --resample F          bicubic (default, ALBEF) or bilinear (CLIP-style pipelines)
  --center-crop         torchvision's Resize(S) + CenterCrop(S): shorter side to S,
                        then the centre S x S, instead of resizing to S x S
  --raw                 uint8 [B,S,S,3] before normalization
  --out FILE            output safetensors (written atomically)
  --force               replace an existing --out file
  -h, --help            this text`

// -------------------------------------------------------------------------------------
// inputs
// -------------------------------------------------------------------------------------

/** Each --images value: a folder's images (sorted, joined to it), or the file itself. */
const inputFiles = async (given: readonly string[]): Promise<E.Either<CmgaError, string[]>> => {
  const files: string[] = []
  for (const g of given) {
    let folder = false
    try {
      folder = statSync(g).isDirectory()
    } catch {
      folder = false // a missing file is reported when it is read, with its name
    }
    if (!folder) {
      files.push(g)
      continue
    }
    const listed = await listImagePaths(g)
    if (E.isLeft(listed)) return listed
    files.push(...listed.right)
  }
  return E.right(files)
}

/** The settings recorded beside the pixels. */
interface Settings {
  readonly size: number
  readonly resample: ResampleFilter
  readonly centerCrop: boolean
  readonly raw: boolean
}

/** Every image decoded and resized (the first failure, in list order, is the error), as one tensor. */
const pixelBatch = async (files: readonly string[], s: Settings): Promise<E.Either<CmgaError, HostTensor>> => {
  const rows = await mapLimit(files, 4, (f) => decodeRgb(f, s.size, { resample: s.resample, centerCrop: s.centerCrop }))
  const bad = rows.find(E.isLeft)
  if (bad !== undefined) return bad
  const images = rows.map((r) => (r as E.Right<Uint8Array>).right)
  const B = images.length
  const plane = s.size * s.size * 3
  if (s.raw) {
    const data = new Uint8Array(B * plane)
    images.forEach((rgb, b) => data.set(rgb, b * plane))
    return E.right({ dtype: 'uint8', shape: [B, s.size, s.size, 3], data })
  }
  const data = new Float32Array(B * plane)
  images.forEach((rgb, b) => data.set(normalizeRgb(rgb, s.size), b * plane))
  return E.right({ dtype: 'float32', shape: [B, 3, s.size, s.size], data })
}

/** The metadata: file names in batch order, and how the pixels were made. */
const metadataOf = (files: readonly string[], s: Settings): Record<string, string> => ({
  files: JSON.stringify(files),
  size: String(s.size),
  resample: s.resample,
  center_crop: String(s.centerCrop),
  layout: s.raw ? 'uint8 [B,S,S,3] RGB' : 'float32 [B,3,S,S] (x / 255 - mean) / std',
  ...(s.raw ? {} : { mean: JSON.stringify(IMAGE_MEAN), std: JSON.stringify(IMAGE_STD) }),
  reference: s.centerCrop
    ? `torchvision Resize(${s.size}, ${s.resample.toUpperCase()}) + CenterCrop(${s.size}) on Image.open(f).convert('RGB')`
    : `Image.open(f).convert('RGB').resize((${s.size}, ${s.size}), Image.${s.resample.toUpperCase()})`
})

// -------------------------------------------------------------------------------------
// command
// -------------------------------------------------------------------------------------

const run = async (values: Values, log: (line: string) => void): Promise<E.Either<CmgaError, void>> => {
  const args = pipe(
    E.Do,
    E.bind('images', () => repeated('preprocess', values, 'images')),
    E.bind('size', () => (values.size === undefined ? fail('usage', 'cmga preprocess: --size is required (see cmga preprocess --help)') : integer('preprocess', values, 'size', 0, 1, 4096))),
    E.bind('resample', () => oneOf('preprocess', values, 'resample', RESAMPLE_FILTERS, 'bicubic')),
    E.bind('out', () => requiredOutput('preprocess', values, 'out', 'file'))
  )
  if (E.isLeft(args)) return args
  const settings: Settings = { size: args.right.size, resample: args.right.resample, centerCrop: values['center-crop'] === true, raw: values.raw === true }
  const files = await inputFiles(args.right.images)
  if (E.isLeft(files)) return files
  const pixels = await pixelBatch(files.right, settings)
  if (E.isLeft(pixels)) return pixels
  const written = writeSafetensorsAtomic(args.right.out, new Map([['pixels', pixels.right]]), metadataOf(files.right, settings))
  if (E.isLeft(written)) return written
  log(`wrote ${args.right.out}: pixels ${pixels.right.dtype} [${pixels.right.shape.join(',')}] for ${files.right.length} image${files.right.length === 1 ? '' : 's'}`)
  return E.right(undefined)
}

/** @since 0.1.0 */
export const preprocessCommand: Command = {
  name: 'preprocess',
  summary: 'write the exact pixels the model sees (bit-identical to PIL) to safetensors',
  help,
  flags: {
    images: { type: 'string', multiple: true },
    size: { type: 'string' },
    resample: { type: 'string' },
    'center-crop': { type: 'boolean' },
    raw: { type: 'boolean' },
    out: { type: 'string' },
    force: { type: 'boolean' }
  },
  run
}
