/**
 * What a GIF's first frame needs beyond libvips' pixels: its palette and transparent
 * index. PIL opens a GIF as a palette image and `convert('RGB')` looks every index up,
 * the transparent one included; libvips gives transparent pixels alpha 0 and no colour.
 * Reading the blocks up to the first image descriptor (no LZW data) is enough to put
 * the palette colour back.
 * @since 0.1.0
 */

// -------------------------------------------------------------------------------------
// model
// -------------------------------------------------------------------------------------

/** The first frame's colour table (RGB triples) and transparent index, if it has one. */
export interface GifFirstFrame {
  readonly palette: Uint8Array
  readonly transparent: number | undefined
}

// -------------------------------------------------------------------------------------
// reading
// -------------------------------------------------------------------------------------

/** Whether the bytes start as a GIF does. */
export const isGif = (b: Uint8Array): boolean => b.length >= 6 && String.fromCharCode(...b.subarray(0, 6)) in { GIF87a: 1, GIF89a: 1 }

/**
 * The palette (local, else global) and transparent index of a GIF's first frame, or
 * undefined when the blocks cannot be read (libvips then reports the damage).
 */
export const gifFirstFrame = (b: Uint8Array): GifFirstFrame | undefined => {
  if (!isGif(b) || b.length < 13) return undefined
  const tableSize = (packed: number): number => (packed & 0x80) !== 0 ? 3 * (2 << (packed & 7)) : 0
  const globalSize = tableSize(b[10])
  const global = b.subarray(13, 13 + globalSize)
  let at = 13 + globalSize
  let transparent: number | undefined
  while (at < b.length) {
    const kind = b[at]
    if (kind === 0x21) {
      const label = b[at + 1]
      at += 2
      if (label === 0xf9 && b[at] >= 4 && at + 4 < b.length) transparent = (b[at + 1] & 1) !== 0 ? b[at + 4] : undefined
      while (at < b.length && b[at] !== 0) at += b[at] + 1
      at += 1
    } else if (kind === 0x2c) {
      if (at + 10 > b.length) return undefined
      const localSize = tableSize(b[at + 9])
      const palette = localSize > 0 ? b.subarray(at + 10, at + 10 + localSize) : global
      return { palette: Uint8Array.from(palette), transparent }
    } else {
      return undefined
    }
  }
  return undefined
}
