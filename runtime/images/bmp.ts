/**
 * Windows BMP, which libvips does not read, decoded as PIL's BmpImagePlugin does and
 * converted to RGB as `convert('RGB')` then does: 1, 4 and 8 bits through the palette
 * (an index past the palette reads PIL's default grey ramp), 16 bits as 5-5-5 or 5-6-5
 * scaled by `v * 255 / 31` (or `/ 63`) in integers, 24 and 32 bits as BGR(X) with
 * any alpha dropped, the bitfield layouts PIL accepts, bottom-up and top-down rows,
 * the OS/2 (12-byte) and Windows (40 to 124-byte) headers. RLE compression is not read
 * (PIL reads it): such a file is an error that says so.
 * @since 0.1.0
 */
import * as E from 'fp-ts/lib/Either.js'
import type { RgbImage } from './convert.js'

// -------------------------------------------------------------------------------------
// model
// -------------------------------------------------------------------------------------

/** Whether the bytes start as a BMP file does. */
export const isBmp = (b: Uint8Array): boolean => b.length >= 2 && b[0] === 0x42 && b[1] === 0x4d

/** The 32-bit bitfield masks PIL accepts, and where its red, green and blue bytes sit. */
const MASKS32: ReadonlyArray<readonly [readonly number[], readonly [number, number, number]]> = [
  [[0xff0000, 0xff00, 0xff, 0], [16, 8, 0]],
  [[0xff000000, 0xff0000, 0xff00, 0], [24, 16, 8]],
  [[0xff000000, 0xff0000, 0xff00, 0xff], [24, 16, 8]],
  [[0xff, 0xff00, 0xff0000, 0xff000000], [0, 8, 16]],
  [[0xff0000, 0xff00, 0xff, 0xff000000], [16, 8, 0]],
  [[0, 0, 0, 0], [16, 8, 0]]
]

const sameMasks = (a: readonly number[], b: readonly number[]): boolean => a.every((m, i) => m >>> 0 === b[i] >>> 0)

// -------------------------------------------------------------------------------------
// decoding
// -------------------------------------------------------------------------------------

/** A BMP file -> RGB as PIL's `Image.open(f).convert('RGB')`, or why it cannot be read. */
export const decodeBmp = (b: Uint8Array): E.Either<string, RgbImage> => {
  if (!isBmp(b) || b.length < 26) return E.left('not a BMP file')
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength)
  let offset = v.getUint32(10, true)
  const headerSize = v.getUint32(14, true)
  if (![12, 40, 64, 108, 124].includes(headerSize)) return E.left(`unsupported BMP header size ${headerSize}`)
  if (14 + headerSize > b.length) return E.left('truncated BMP header')
  const os2 = headerSize === 12
  const width = os2 ? v.getUint16(18, true) : v.getInt32(18, true)
  const rawHeight = os2 ? v.getUint16(20, true) : v.getInt32(22, true)
  const topDown = !os2 && rawHeight < 0
  const height = Math.abs(rawHeight)
  const bits = v.getUint16(os2 ? 24 : 28, true)
  const compression = os2 ? 0 : v.getUint32(30, true)
  let colors = os2 ? 0 : v.getUint32(46, true)
  if (width < 1 || height < 1) return E.left(`BMP size ${width} x ${height}`)
  if (![1, 4, 8, 16, 24, 32].includes(bits)) return E.left(`unsupported BMP pixel depth ${bits}`)
  if (compression === 1 || compression === 2) return E.left('RLE-compressed BMP is not supported')
  if (compression !== 0 && compression !== 3) return E.left(`unsupported BMP compression ${compression}`)
  let at = 14 + headerSize
  let masks: number[] = []
  if (compression === 3) {
    if (headerSize >= 56) masks = [0, 1, 2, 3].map((i) => v.getUint32(54 + 4 * i, true))
    else {
      if (at + 12 > b.length) return E.left('truncated BMP bitfields')
      masks = [0, 1, 2].map((i) => v.getUint32(at + 4 * i, true)).concat(0)
      at += 12
    }
  }
  if (colors === 0) colors = 2 ** bits
  // Some writers point the pixel offset at the palette; PIL steps over it then.
  if (offset === 14 + headerSize && bits <= 8) offset += 4 * colors
  const stride = (((width * bits + 31) >>> 3) & ~3)
  if (offset + stride * height > b.length) return E.left('truncated BMP pixel data')
  const rgb = new Uint8Array(width * height * 3)
  const row = (y: number): number => offset + (topDown ? y : height - 1 - y) * stride

  if (bits <= 8) {
    const entry = os2 ? 3 : 4
    const pal = new Uint8Array(256 * 3)
    for (let i = 0; i < 256; i++) pal.fill(i, 3 * i, 3 * i + 3) // PIL's default ramp
    for (let i = 0; i < Math.min(colors, 256); i++) {
      if (at + i * entry + 3 > b.length) return E.left('truncated BMP palette')
      pal[3 * i] = b[at + i * entry + 2]
      pal[3 * i + 1] = b[at + i * entry + 1]
      pal[3 * i + 2] = b[at + i * entry]
    }
    const per = 8 / bits
    const mask = (1 << bits) - 1
    for (let y = 0; y < height; y++) {
      const r = row(y)
      for (let x = 0; x < width; x++) {
        const byte = b[r + Math.floor(x / per)]
        const index = (byte >> (8 - bits * ((x % per) + 1))) & mask
        rgb.set(pal.subarray(3 * index, 3 * index + 3), 3 * (y * width + x))
      }
    }
    return E.right({ width, height, rgb })
  }
  if (bits === 16) {
    const layout = compression === 0 || sameMasks(masks.slice(0, 3), [0x7c00, 0x3e0, 0x1f]) ? 555 : sameMasks(masks.slice(0, 3), [0xf800, 0x7e0, 0x1f]) ? 565 : 0
    if (layout === 0) return E.left('unsupported BMP bitfields layout')
    for (let y = 0; y < height; y++) {
      const r = row(y)
      for (let x = 0; x < width; x++) {
        const p = b[r + 2 * x] | (b[r + 2 * x + 1] << 8)
        const o = 3 * (y * width + x)
        rgb[o] = layout === 555 ? Math.floor(((p >> 10) & 31) * 255 / 31) : Math.floor(((p >> 11) & 31) * 255 / 31)
        rgb[o + 1] = layout === 555 ? Math.floor(((p >> 5) & 31) * 255 / 31) : Math.floor(((p >> 5) & 63) * 255 / 63)
        rgb[o + 2] = Math.floor((p & 31) * 255 / 31)
      }
    }
    return E.right({ width, height, rgb })
  }
  let shifts: readonly [number, number, number] = [16, 8, 0]
  if (compression === 3) {
    const found = bits === 32 ? MASKS32.find(([m]) => sameMasks(masks, m)) : sameMasks(masks.slice(0, 3), [0xff0000, 0xff00, 0xff]) ? MASKS32[0] : undefined
    if (found === undefined) return E.left('unsupported BMP bitfields layout')
    shifts = found[1]
  }
  const bytes = bits / 8
  for (let y = 0; y < height; y++) {
    const r = row(y)
    for (let x = 0; x < width; x++) {
      const p = r + bytes * x
      const value = bytes === 4 ? v.getUint32(p, true) : b[p] | (b[p + 1] << 8) | (b[p + 2] << 16)
      const o = 3 * (y * width + x)
      rgb[o] = (value >>> shifts[0]) & 255
      rgb[o + 1] = (value >>> shifts[1]) & 255
      rgb[o + 2] = (value >>> shifts[2]) & 255
    }
  }
  return E.right({ width, height, rgb })
}
