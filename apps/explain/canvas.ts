/**
 * A small RGB raster for `cmga explain`: rectangles, alpha blending, text from the
 * built-in glyph table, and PNG encoding with sharp. Text needs no system font, so the
 * same picture comes out on every machine.
 * @since 0.1.0
 */
import sharp from 'sharp'
import * as E from 'fp-ts/lib/Either.js'
import type { CmgaError } from '../../compiler/errors.js'
import { fail } from '../../compiler/errors.js'
import { GLYPH_HEIGHT, GLYPH_WIDTH, glyph } from './glyphs.js'

// -------------------------------------------------------------------------------------
// model
// -------------------------------------------------------------------------------------

/** A colour, 0..255 per channel. */
export type Rgb = readonly [number, number, number]

/** An RGB raster: row-major, 3 bytes a pixel. Drawing functions write into `data`. */
export interface Canvas {
  readonly width: number
  readonly height: number
  readonly data: Uint8Array
}

/** Height of a line of text, in pixels. */
export const LINE_HEIGHT = GLYPH_HEIGHT

// -------------------------------------------------------------------------------------
// drawing
// -------------------------------------------------------------------------------------

/** A canvas filled with one colour. */
export const canvas = (width: number, height: number, background: Rgb): Canvas => {
  const data = new Uint8Array(width * height * 3)
  for (let i = 0; i < data.length; i += 3) data.set(background, i)
  return { width, height, data }
}

/** Blends `color` over one pixel with opacity `alpha` (0..1); pixels outside are ignored. */
export const blendPixel = (c: Canvas, x: number, y: number, color: Rgb, alpha = 1): void => {
  if (x < 0 || y < 0 || x >= c.width || y >= c.height || alpha <= 0) return
  const i = (y * c.width + x) * 3
  const a = Math.min(alpha, 1)
  for (let k = 0; k < 3; k++) c.data[i + k] = Math.round(c.data[i + k] * (1 - a) + color[k] * a)
}

/** Fills (or, with `alpha` < 1, tints) a rectangle, clipped to the canvas. */
export const fillRect = (c: Canvas, x: number, y: number, w: number, h: number, color: Rgb, alpha = 1): void => {
  for (let yy = Math.max(0, y); yy < Math.min(c.height, y + h); yy++) {
    for (let xx = Math.max(0, x); xx < Math.min(c.width, x + w); xx++) blendPixel(c, xx, yy, color, alpha)
  }
}

/** Draws a rectangle's outline, `t` pixels thick, inside the rectangle. */
export const strokeRect = (c: Canvas, x: number, y: number, w: number, h: number, color: Rgb, t = 1, alpha = 1): void => {
  fillRect(c, x, y, w, t, color, alpha)
  fillRect(c, x, y + h - t, w, t, color, alpha)
  fillRect(c, x, y + t, t, h - 2 * t, color, alpha)
  fillRect(c, x + w - t, y + t, t, h - 2 * t, color, alpha)
}

/** The characters drawn for a text: accents dropped (as BERT-uncased does), one glyph each. */
export const glyphChars = (text: string): string[] => [...text.normalize('NFD').replace(/\p{M}/gu, '')]

/** Cuts a text to at most `width` pixels, ending it with '~' when cut. */
export const fitText = (text: string, width: number): string => {
  const n = Math.max(0, Math.floor(width / GLYPH_WIDTH))
  const chars = glyphChars(text)
  return chars.length <= n ? text : chars.slice(0, Math.max(0, n - 1)).join('') + '~'
}

/** Draws one line of text with its top-left corner at (x, y); returns its width. */
export const drawText = (c: Canvas, x: number, y: number, text: string, color: Rgb): number => {
  const chars = glyphChars(text)
  chars.forEach((ch, n) => {
    const g = glyph(ch)
    for (let i = 0; i < g.length; i++) {
      const v = parseInt(g[i], 16)
      if (v > 0) blendPixel(c, x + n * GLYPH_WIDTH + (i % GLYPH_WIDTH), y + Math.floor(i / GLYPH_WIDTH), color, v / 15)
    }
  })
  return chars.length * GLYPH_WIDTH
}

// -------------------------------------------------------------------------------------
// encoding
// -------------------------------------------------------------------------------------

/** The canvas as PNG bytes. */
export const encodePng = async (c: Canvas): Promise<E.Either<CmgaError, Uint8Array>> => {
  try {
    const png = await sharp(c.data, { raw: { width: c.width, height: c.height, channels: 3 } }).png({ compressionLevel: 9 }).toBuffer()
    return E.right(new Uint8Array(png.buffer, png.byteOffset, png.byteLength))
  } catch (e) {
    return fail('runtime', `cannot encode the picture as PNG (${(e as Error).message})`)
  }
}
