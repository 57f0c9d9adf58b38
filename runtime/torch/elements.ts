/**
 * Storage bytes (little-endian) to typed elements: float32 for Float, Half and BFloat16,
 * float64 for Double, int64 for the integer types, 0/1 bytes for Bool.
 * @since 0.1.0
 */
import type { DataOf } from '../../compiler/ir/tensor.js'
import { hostIsLittleEndian } from '../../compiler/ir/dtype.js'
import { bfloat16ToFloat32, halfToNumber } from '../float16.js'
import type { StorageType } from './unpickle.js'

const ITEM: { readonly [K in StorageType]: number } = { Float: 4, Half: 2, BFloat16: 2, Double: 8, Long: 8, Int: 4, Short: 2, Char: 1, Byte: 1, Bool: 1 }

export type Decoded =
  | { readonly dtype: 'float32'; readonly data: DataOf['float32'] }
  | { readonly dtype: 'float64'; readonly data: DataOf['float64'] }
  | { readonly dtype: 'int64'; readonly data: DataOf['int64'] }
  | { readonly dtype: 'bool'; readonly data: DataOf['bool'] }

/** The `numel` elements of a storage (a view of `raw` where the layout allows), or why the bytes cannot hold them. */
export const decodeElements = (type: StorageType, raw: Uint8Array, numel: number): Decoded | string => {
  const need = numel * ITEM[type]
  if (!Number.isInteger(numel) || numel < 0) return `bad element count ${numel}`
  if (raw.byteLength < need) return `${raw.byteLength} bytes, but ${numel} ${type} elements need ${need}`
  const view = new DataView(raw.buffer, raw.byteOffset, need)
  switch (type) {
    case 'Float': {
      // little-endian hosts read the bytes in place (the caller owns them)
      if (raw.byteOffset % 4 === 0 && hostIsLittleEndian) return { dtype: 'float32', data: new Float32Array(raw.buffer, raw.byteOffset, numel) }
      const out = new Float32Array(numel)
      for (let i = 0; i < numel; i++) out[i] = view.getFloat32(4 * i, true)
      return { dtype: 'float32', data: out }
    }
    case 'Half':
    case 'BFloat16': {
      const bits = new Uint16Array(numel)
      for (let i = 0; i < numel; i++) bits[i] = view.getUint16(2 * i, true)
      return { dtype: 'float32', data: type === 'Half' ? Float32Array.from(bits, halfToNumber) : bfloat16ToFloat32(bits) }
    }
    case 'Double': {
      const out = new Float64Array(numel)
      for (let i = 0; i < numel; i++) out[i] = view.getFloat64(8 * i, true)
      return { dtype: 'float64', data: out }
    }
    case 'Bool': {
      const out = new Uint8Array(numel)
      for (let i = 0; i < numel; i++) out[i] = raw[i] === 0 ? 0 : 1
      return { dtype: 'bool', data: out }
    }
    default: {
      const out = new BigInt64Array(numel)
      const get: (i: number) => bigint =
        type === 'Long' ? (i) => view.getBigInt64(8 * i, true)
          : type === 'Int' ? (i) => BigInt(view.getInt32(4 * i, true))
            : type === 'Short' ? (i) => BigInt(view.getInt16(2 * i, true))
              : type === 'Char' ? (i) => BigInt(view.getInt8(i))
                : (i) => BigInt(view.getUint8(i))
      for (let i = 0; i < numel; i++) out[i] = get(i)
      return { dtype: 'int64', data: out }
    }
  }
}
