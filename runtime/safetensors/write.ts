/**
 * Safetensors writer: deterministic bytes (keys in the given order, header padded with
 * spaces to a multiple of 8 so the data section is 8-byte aligned) and an atomic
 * file write (temp file in the same directory, fsync, rename).
 * @since 0.1.0
 */
import { hostIsLittleEndian } from '../../compiler/ir/dtype.js'
import * as E from 'fp-ts/lib/Either.js'
import { writeFileAtomic } from '../../compiler/atomic.js'
import { fail, type CmgaError } from '../../compiler/errors.js'
import type { DType } from '../../compiler/ir/dtype.js'
import { sizeOf, type HostTensor } from '../../compiler/ir/tensor.js'

// -------------------------------------------------------------------------------------
// encoding
// -------------------------------------------------------------------------------------

/** The safetensors dtype each host dtype is written as. */
const fileDtype: { readonly [K in DType]: string } = { float32: 'F32', float64: 'F64', int64: 'I64', bool: 'BOOL', int8: 'I8', uint8: 'U8' }


const isMap = (t: unknown): t is ReadonlyMap<string, HostTensor> => t instanceof Map

/** Throws a `RangeError` unless the tensor can be written under that name. */
const check = (name: string, t: HostTensor): void => {
  const problem =
    name === '__metadata__'
      ? 'the name is reserved'
      : !Object.hasOwn(fileDtype, t.dtype)
        ? `dtype '${t.dtype}' cannot be written`
        : !t.shape.every((d) => Number.isSafeInteger(d) && d >= 0)
          ? `shape [${t.shape.join(', ')}] is not static`
          : t.data.length !== sizeOf(t.shape)
            ? `${t.data.length} elements for shape [${t.shape.join(', ')}]`
            : undefined
  if (problem !== undefined) throw new RangeError(`safetensors: tensor '${name}': ${problem}`)
}

/**
 * The bytes of a safetensors file holding the tensors (in the given order; a `Map`
 * keeps any order, a record puts integer-like keys first) and optional metadata.
 * Throws a `RangeError` for a tensor whose data does not fit its shape, or a name
 * of `__metadata__`.
 */
export const encodeSafetensors = (
  tensors: ReadonlyMap<string, HostTensor> | Record<string, HostTensor>,
  metadata?: Record<string, string>
): Uint8Array => {
  const entries = isMap(tensors) ? [...tensors] : Object.entries(tensors)
  const parts = metadata === undefined ? [] : [`"__metadata__":${JSON.stringify(metadata)}`]
  let offset = 0
  for (const [name, t] of entries) {
    check(name, t)
    const info = { dtype: fileDtype[t.dtype], shape: t.shape, data_offsets: [offset, offset + t.data.byteLength] }
    parts.push(`${JSON.stringify(name)}:${JSON.stringify(info)}`)
    offset += t.data.byteLength
  }
  const json = new TextEncoder().encode(`{${parts.join(',')}}`)
  const headerLength = json.length + ((8 - (json.length % 8)) % 8)
  const out = new Uint8Array(8 + headerLength + offset).fill(0x20, 8 + json.length, 8 + headerLength)
  new DataView(out.buffer).setBigUint64(0, BigInt(headerLength), true)
  out.set(json, 8)
  let at = 8 + headerLength
  for (const [, { data }] of entries) {
    const bytes = out.subarray(at, at + data.byteLength)
    bytes.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength))
    const size = data.BYTES_PER_ELEMENT
    if (!hostIsLittleEndian && size > 1) for (let i = 0; i < bytes.length; i += size) bytes.subarray(i, i + size).reverse()
    at += data.byteLength
  }
  return out
}

// -------------------------------------------------------------------------------------
// files
// -------------------------------------------------------------------------------------

const messageOf = (e: unknown): string => (e instanceof Error ? e.message : String(e))

/**
 * Writes a safetensors file atomically: to a temp file in the target's directory,
 * fsynced, then renamed over the target. On failure the temp file is removed and the
 * target left as it was; file system errors are `io`, unencodable tensors `format`.
 */
export const writeSafetensorsAtomic = (
  path: string,
  tensors: ReadonlyMap<string, HostTensor> | Record<string, HostTensor>,
  metadata?: Record<string, string>
): E.Either<CmgaError, void> => {
  let bytes: Uint8Array
  try {
    bytes = encodeSafetensors(tensors, metadata)
  } catch (e) {
    return fail('format', `cannot encode ${path}: ${messageOf(e)}`)
  }
  return writeFileAtomic(path, bytes)
}
