/**
 * PIL's `convert('RGB')`, from the samples a decoder gives: grey, grey with alpha,
 * RGB, RGBA, CMYK, at 8 or 16 bits. Each rule is Pillow's (Convert.c and the PNG /
 * TIFF unpackers), not a colour-managed conversion:
 *
 * - grey (`L`, and `1` as 0 / 255): the value three times; alpha is dropped.
 * - RGBA, LA: alpha dropped, not composited.
 * - 16-bit grey without alpha (PIL's modes `I` and `I;16`): clipped to 0..255, so
 *   values above 255 are white (PIL converts I to RGB by clipping, not by scaling).
 * - 16-bit grey with alpha, RGB and RGBA (PIL's `LA;16B`, `RGB;16B`, `RGBA;16B` rawmodes):
 *   the high byte.
 * - CMYK: `255 - k - c * (255 - k) / 255` per channel, in PIL's integer arithmetic
 *   (`MULDIV255`), with no colour profile.
 * @since 0.1.0
 */

// -------------------------------------------------------------------------------------
// model
// -------------------------------------------------------------------------------------

/** What the samples of a decoded image are (libvips' interpretations, as sharp names them). */
export type SampleSpace = 'b-w' | 'srgb' | 'cmyk' | 'grey16' | 'rgb16'

/** Decoded samples, interleaved, before any conversion. */
export interface RawImage {
  readonly width: number
  readonly height: number
  /** Samples per pixel (colour channels, then alpha or extra bands, if any). */
  readonly channels: number
  readonly space: SampleSpace
  /** 8-bit samples, or 16-bit ones for `grey16` / `rgb16`. */
  readonly data: Uint8Array | Uint16Array
}

/** An 8-bit RGB image, interleaved [height, width, 3]. */
export interface RgbImage {
  readonly width: number
  readonly height: number
  readonly rgb: Uint8Array
}

/** Colour channels of each space (what comes after them is alpha or extra bands, dropped). */
const COLOURS: { readonly [K in SampleSpace]: number } = { 'b-w': 1, srgb: 3, cmyk: 4, grey16: 1, rgb16: 3 }

// -------------------------------------------------------------------------------------
// conversions
// -------------------------------------------------------------------------------------

/** PIL's `MULDIV255(a, b)`: a * b / 255, rounded, in integers. */
const mulDiv255 = (a: number, b: number): number => {
  const t = a * b + 128
  return ((t >> 8) + t) >> 8
}

/** One CMYK pixel's channel as PIL's `cmyk2rgb` computes it. */
export const cmykChannel = (c: number, k: number): number => {
  const nk = 255 - k
  const v = nk - mulDiv255(c, nk)
  return v < 0 ? 0 : v > 255 ? 255 : v
}

/** The 8-bit value PIL gives a 16-bit sample: clipped for grey without alpha, else its high byte. */
const from16 = (clip: boolean) => (v: number): number => (clip ? (v > 255 ? 255 : v) : v >> 8)

/**
 * Decoded samples -> RGB as PIL's `Image.open(f).convert('RGB')` gives them (see the
 * module comment for each rule). Throws a `RangeError` when the samples do not fit
 * the stated size or have fewer channels than the space needs.
 */
export const toRgb = (img: RawImage): RgbImage => {
  const { width, height, channels, space, data } = img
  const n = width * height
  if (data.length !== n * channels) throw new RangeError(`toRgb: ${data.length} samples for ${width} x ${height} x ${channels}`)
  if (channels < COLOURS[space]) throw new RangeError(`toRgb: ${channels} channels for ${space}`)
  const rgb = new Uint8Array(n * 3)
  if (space === 'cmyk') {
    for (let p = 0, i = 0; p < n; p++, i += channels) {
      const k = data[i + 3]
      rgb[3 * p] = cmykChannel(data[i], k)
      rgb[3 * p + 1] = cmykChannel(data[i + 1], k)
      rgb[3 * p + 2] = cmykChannel(data[i + 2], k)
    }
    return { width, height, rgb }
  }
  const wide = space === 'grey16' || space === 'rgb16'
  const value = wide ? from16(space === 'grey16' && channels === 1) : (v: number): number => v
  const grey = COLOURS[space] === 1
  for (let p = 0, i = 0; p < n; p++, i += channels) {
    if (grey) {
      const v = value(data[i])
      rgb[3 * p] = v
      rgb[3 * p + 1] = v
      rgb[3 * p + 2] = v
    } else {
      rgb[3 * p] = value(data[i])
      rgb[3 * p + 1] = value(data[i + 1])
      rgb[3 * p + 2] = value(data[i + 2])
    }
  }
  return { width, height, rgb }
}
