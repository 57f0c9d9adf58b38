/**
 * Decoding an image file to the RGB pixels of PIL's `Image.open(f).convert('RGB')`:
 * libvips (through sharp) for JPEG, PNG, WebP, GIF and TIFF, asked for the file's own
 * samples (no colour-profile conversion, no EXIF rotation, no shrink-on-load, first
 * frame or page only), then PIL's mode conversions (convert.ts); our own reader for
 * BMP, which libvips does not read (bmp.ts); the palette colour of a GIF's transparent
 * index put back (gif.ts).
 * @since 0.1.0
 */
import sharp from 'sharp'
import * as E from 'fp-ts/lib/Either.js'
import { decodeBmp, isBmp } from './bmp.js'
import type { RawImage, RgbImage, SampleSpace } from './convert.js'
import { toRgb } from './convert.js'
import { gifFirstFrame } from './gif.js'

// -------------------------------------------------------------------------------------
// model
// -------------------------------------------------------------------------------------

/** File name endings of the formats read (case-insensitive), as PIL reads them in practice. */
export const DECODED_EXTENSIONS: readonly string[] = ['.jpg', '.jpeg', '.png', '.webp', '.gif', '.bmp', '.tif', '.tiff']

const SPACES: readonly SampleSpace[] = ['b-w', 'srgb', 'cmyk', 'grey16', 'rgb16']

const isSpace = (s: string | undefined): s is SampleSpace => (SPACES as readonly string[]).includes(s ?? '')

/** An error message on one line, each distinct line of it once (libvips repeats them). */
const oneLine = (e: unknown): string =>
  [...new Set((e instanceof Error ? e.message : String(e)).split('\n').map((l) => l.replace(/\s+/g, ' ').trim()).filter((l) => l !== ''))].join(' ')

// -------------------------------------------------------------------------------------
// decoding
// -------------------------------------------------------------------------------------

/** The samples libvips decodes, untouched: its own interpretation in and out, 16 bits kept. */
const rawSamples = async (bytes: Uint8Array): Promise<RawImage> => {
  const options = { failOn: 'truncated', ignoreIcc: true, autoOrient: false } as const
  const meta = await sharp(bytes, options).metadata()
  const space = meta.space
  if (!isSpace(space)) throw new Error(`unsupported colour space ${String(space)}`)
  if (meta.depth !== 'uchar' && meta.depth !== 'ushort') throw new Error(`unsupported sample format ${String(meta.depth)}`)
  const wide = space === 'grey16' || space === 'rgb16'
  const { data, info } = await sharp(bytes, options)
    .pipelineColourspace(space)
    .toColourspace(space)
    .raw({ depth: wide ? 'ushort' : 'uchar' })
    .toBuffer({ resolveWithObject: true })
  const samples = wide ? new Uint16Array(data.buffer, data.byteOffset, data.byteLength / 2) : new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
  return { width: info.width, height: info.height, channels: info.channels, space, data: samples }
}

/** A PNG's colour type (IHDR byte 25: 0 grey, 2 RGB, 3 palette, 4 grey + alpha, 6 RGBA), if it is a PNG. */
const pngColourType = (b: Uint8Array): number | undefined =>
  b.length > 25 && b[0] === 0x89 && b[1] === 0x50 && b[2] === 0x4e && b[3] === 0x47 ? b[25] : undefined

/**
 * A 16-bit grey PNG with a tRNS chunk: libvips adds an alpha band, but PIL opens it as
 * mode I (clipped to 8 bits), not as grey with alpha (high byte): the band is dropped.
 */
const greyWithoutAlpha = (bytes: Uint8Array, raw: RawImage): RawImage => {
  if (raw.space !== 'grey16' || raw.channels !== 2 || pngColourType(bytes) !== 0) return raw
  const data = new Uint16Array(raw.width * raw.height)
  for (let p = 0; p < data.length; p++) data[p] = raw.data[2 * p]
  return { ...raw, channels: 1, data }
}

/** A GIF's transparent pixels (alpha 0 from libvips) get their palette colour, as PIL gives them. */
const restoreGifTransparency = (bytes: Uint8Array, raw: RawImage, rgb: RgbImage): RgbImage => {
  const frame = gifFirstFrame(bytes)
  if (frame === undefined || frame.transparent === undefined || raw.channels !== 4) return rgb
  const at = 3 * frame.transparent
  const colour = at + 3 <= frame.palette.length ? frame.palette.subarray(at, at + 3) : new Uint8Array(3)
  for (let p = 0; p < raw.width * raw.height; p++) if (raw.data[4 * p + 3] === 0) rgb.rgb.set(colour, 3 * p)
  return rgb
}

/**
 * An encoded image -> the RGB pixels of PIL's `Image.open(f).convert('RGB')`, or why
 * it cannot be decoded (one line).
 */
export const decodeImage = async (bytes: Uint8Array): Promise<E.Either<string, RgbImage>> => {
  if (isBmp(bytes)) return decodeBmp(bytes)
  try {
    const raw = greyWithoutAlpha(bytes, await rawSamples(bytes))
    const rgb = toRgb(raw)
    return E.right(raw.space === 'srgb' && raw.channels === 4 ? restoreGifTransparency(bytes, raw, rgb) : rgb)
  } catch (e) {
    return E.left(oneLine(e))
  }
}
