/**
 * The CRC-32 of every entry of a zip archive, from its central directory (zip64 too), so
 * a checkpoint's bytes can be checked after unzipping: fflate does not check CRCs, and a
 * PyTorch checkpoint stores its tensors uncompressed, so a flipped byte would otherwise
 * become a silently wrong weight.
 * @since 0.1.0
 */
import { crc32 } from 'node:zlib'

const u16 = (b: Uint8Array, at: number): number => b[at] | (b[at + 1] << 8)
const u32 = (b: Uint8Array, at: number): number => (b[at] | (b[at + 1] << 8) | (b[at + 2] << 16) | (b[at + 3] << 24)) >>> 0
const u64 = (b: Uint8Array, at: number): number => u32(b, at) + u32(b, at + 4) * 2 ** 32

/** Entry name -> CRC-32 as the archive records it; a string saying what is wrong when it cannot be read. */
export const zipCrcs = (b: Uint8Array): Map<string, number> | string => {
  let eocd = -1
  for (let at = b.length - 22; at >= Math.max(0, b.length - 22 - 65535); at--) {
    if (u32(b, at) === 0x06054b50) {
      eocd = at
      break
    }
  }
  if (eocd < 0) return 'no end of central directory record'
  let count = u16(b, eocd + 10)
  let offset = u32(b, eocd + 16)
  if ((count === 0xffff || offset === 0xffffffff) && eocd >= 20 && u32(b, eocd - 20) === 0x07064b50) {
    const z = u64(b, eocd - 20 + 8)
    if (z + 56 > b.length || u32(b, z) !== 0x06064b50) return 'a broken zip64 end of central directory record'
    count = u64(b, z + 32)
    offset = u64(b, z + 48)
  }
  const out = new Map<string, number>()
  const dec = new TextDecoder()
  let at = offset
  for (let k = 0; k < count; k++) {
    if (at + 46 > b.length || u32(b, at) !== 0x02014b50) return `central directory entry ${k} is broken`
    const nameLength = u16(b, at + 28)
    out.set(dec.decode(b.subarray(at + 46, at + 46 + nameLength)), u32(b, at + 16))
    at += 46 + nameLength + u16(b, at + 30) + u16(b, at + 32)
  }
  return out
}

/** Whether `data` has the CRC-32 recorded for `name`. */
export const crcMatches = (crcs: ReadonlyMap<string, number>, name: string, data: Uint8Array): boolean => crcs.get(name) === crc32(data)
