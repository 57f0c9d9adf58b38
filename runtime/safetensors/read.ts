/**
 * Safetensors reader. A file is an 8-byte little-endian header length, a UTF-8 JSON
 * header that gives each tensor's dtype, shape and byte range, then the data section.
 * Everything is checked; each failure is a `format` error naming the file and the
 * tensor or field at fault.
 * @since 0.1.0
 */
import { hostIsLittleEndian } from '../../compiler/ir/dtype.js'
import { readFileSync } from 'node:fs'
import * as E from 'fp-ts/lib/Either.js'
import { cmgaError, fail, readProblem, type CmgaError } from '../../compiler/errors.js'
import { sizeOf, type HostTensor } from '../../compiler/ir/tensor.js'
import { bfloat16ToFloat32, halfToNumber } from '../float16.js'

// -------------------------------------------------------------------------------------
// model
// -------------------------------------------------------------------------------------

/** A parsed safetensors file. */
export interface SafetensorsFile {
  /** Tensors in the order the header lists them. */
  readonly tensors: ReadonlyMap<string, HostTensor>
  /** The `__metadata__` entry, or `{}` when there is none. */
  readonly metadata: Record<string, string>
}

/** Largest header accepted, in bytes (the limit of the reference implementation). */
export const MAX_HEADER_BYTES = 100_000_000

/** One header entry, checked against the data section. */
interface Entry {
  readonly name: string
  readonly dtype: string
  readonly shape: readonly number[]
  readonly begin: number
  readonly end: number
}

// -------------------------------------------------------------------------------------
// dtypes
// -------------------------------------------------------------------------------------


/** Little-endian elements in host byte order (swapped in place on big-endian hosts, where `bytes` is a private copy). */
const hostOrder = (bytes: Uint8Array, size: number): Uint8Array => {
  if (!hostIsLittleEndian) for (let i = 0; i < bytes.length; i += size) bytes.subarray(i, i + size).reverse()
  return bytes
}

/** A typed array over `bytes` (which must be aligned to the element size). */
const over = <T>(Ctor: new (b: ArrayBuffer, offset: number, length: number) => T, bytes: Uint8Array, size: number): T =>
  new Ctor(bytes.buffer as ArrayBuffer, bytes.byteOffset, bytes.byteLength / size)

/** Per supported file dtype: bytes per element, and a decoder of aligned bytes (the result may view them). */
const decoders: Record<string, { size: number; decode: (b: Uint8Array) => Pick<HostTensor, 'dtype' | 'data'> }> = {
  F32: { size: 4, decode: (b) => ({ dtype: 'float32', data: over(Float32Array, hostOrder(b, 4), 4) }) },
  F64: { size: 8, decode: (b) => ({ dtype: 'float64', data: over(Float64Array, hostOrder(b, 8), 8) }) },
  I64: { size: 8, decode: (b) => ({ dtype: 'int64', data: over(BigInt64Array, hostOrder(b, 8), 8) }) },
  BOOL: { size: 1, decode: (b) => ({ dtype: 'bool', data: b }) },
  I8: { size: 1, decode: (b) => ({ dtype: 'int8', data: over(Int8Array, b, 1) }) },
  U8: { size: 1, decode: (b) => ({ dtype: 'uint8', data: over(Uint8Array, b, 1) }) },
  I32: {
    size: 4,
    decode: (b) => {
      const src = over(Int32Array, hostOrder(b, 4), 4)
      const data = new BigInt64Array(src.length)
      for (let i = 0; i < src.length; i++) data[i] = BigInt(src[i])
      return { dtype: 'int64', data }
    }
  },
  F16: {
    size: 2,
    decode: (b) => {
      const src = over(Uint16Array, hostOrder(b, 2), 2)
      const data = new Float32Array(src.length)
      for (let i = 0; i < src.length; i++) data[i] = halfToNumber(src[i])
      return { dtype: 'float32', data }
    }
  },
  BF16: {
    size: 2,
    decode: (b) => {
      return { dtype: 'float32', data: bfloat16ToFloat32(over(Uint16Array, hostOrder(b, 2), 2)) }
    }
  }
}

/** Dtypes of the safetensors format that we do not read. */
const unsupported = new Set(['U16', 'I16', 'U32', 'U64', 'F8_E4M3', 'F8_E5M2', 'F8_E8M0', 'F4', 'F6_E2M3', 'F6_E3M2', 'C64'])

// -------------------------------------------------------------------------------------
// header
// -------------------------------------------------------------------------------------

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v)

const isIndexArray = (v: unknown): v is number[] =>
  Array.isArray(v) && v.every((x) => Number.isSafeInteger(x) && x >= 0)

/**
 * The keys of a JSON object text in written order, which `JSON.parse` loses for
 * integer-like keys. The text must already be known to be valid JSON.
 */
const topLevelKeys = (text: string): string[] => {
  const keys: string[] = []
  let depth = 0
  let expectKey = false
  for (let i = 0; i < text.length; i++) {
    const c = text[i]
    if (c === '"') {
      let j = i + 1
      while (text[j] !== '"') j += text[j] === '\\' ? 2 : 1
      if (depth === 1 && expectKey) keys.push(JSON.parse(text.slice(i, j + 1)) as string)
      expectKey = false
      i = j
    } else if (c === '{' || c === '[') {
      depth++
      expectKey = depth === 1
    } else if (c === '}' || c === ']') depth--
    else if (c === ',') expectKey = depth === 1
  }
  return keys
}

/** Decodes the header bytes to a JSON object and its keys in written order. */
const parseHeader = (bytes: Uint8Array): E.Either<string, { obj: Record<string, unknown>; keys: string[] }> => {
  let text: string
  let obj: unknown
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes)
  } catch {
    return E.left('header is not valid UTF-8')
  }
  try {
    obj = JSON.parse(text)
  } catch (e) {
    return E.left(`header is not valid JSON (${e instanceof Error ? e.message : String(e)})`)
  }
  if (!isObject(obj)) return E.left('header is not a JSON object')
  const keys = topLevelKeys(text)
  const repeated = keys.find((k, i) => keys.indexOf(k) !== i)
  return repeated === undefined ? E.right({ obj, keys }) : E.left(`header repeats the key '${repeated}'`)
}

/** Checks `__metadata__`: an object whose values are all strings. */
const parseMetadata = (v: unknown): E.Either<string, Record<string, string>> => {
  if (!isObject(v)) return E.left('__metadata__ must be an object of strings')
  const bad = Object.keys(v).find((k) => typeof v[k] !== 'string')
  return bad === undefined
    ? E.right(v as Record<string, string>)
    : E.left(`__metadata__ must map strings to strings, but '${bad}' is ${JSON.stringify(v[bad])}`)
}

/** Checks one tensor entry against the supported dtypes and the data section length. */
const parseEntry = (name: string, v: unknown, dataLength: number): E.Either<string, Entry> => {
  const bad = (msg: string) => E.left(`tensor '${name}': ${msg}`)
  if (!isObject(v)) return bad('entry is not an object')
  const { dtype, shape, data_offsets: offsets } = v
  if (typeof dtype !== 'string') return bad('dtype is missing or not a string')
  if (!Object.hasOwn(decoders, dtype)) return bad(`${unsupported.has(dtype) ? 'unsupported' : 'unknown'} dtype '${dtype}'`)
  if (!isIndexArray(shape)) return bad(`shape must be an array of non-negative integers, got ${JSON.stringify(shape)}`)
  if (!isIndexArray(offsets) || offsets.length !== 2) {
    return bad(`data_offsets must be [begin, end], non-negative integers, got ${JSON.stringify(offsets)}`)
  }
  const [begin, end] = offsets
  if (begin > end) return bad(`data_offsets [${begin}, ${end}] begin after they end`)
  if (end > dataLength) return bad(`data_offsets [${begin}, ${end}] lie outside the data section (${dataLength} bytes)`)
  const expected = decoders[dtype].size * sizeOf(shape)
  if (end - begin !== expected) {
    return bad(`byte length ${end - begin} does not match dtype ${dtype} × shape [${shape.join(', ')}] = ${expected} bytes`)
  }
  return E.right({ name, dtype, shape, begin, end })
}

/** The first pair of non-empty entries whose byte ranges overlap, as a message. */
const findOverlap = (entries: readonly Entry[]): string | undefined => {
  const sorted = entries.filter((e) => e.end > e.begin).sort((a, b) => a.begin - b.begin)
  for (let i = 1; i < sorted.length; i++) {
    const [a, b] = [sorted[i - 1], sorted[i]]
    if (b.begin < a.end) return `tensors '${a.name}' [${a.begin}, ${a.end}) and '${b.name}' [${b.begin}, ${b.end}) overlap`
  }
  return undefined
}

// -------------------------------------------------------------------------------------
// reading
// -------------------------------------------------------------------------------------

/** Checks every header entry, then copies each tensor out of the data section. */
const parseBody = (bytes: Uint8Array): E.Either<string, SafetensorsFile> => {
  if (bytes.length < 8) return E.left(`file is ${bytes.length} bytes, too short for the 8-byte header length`)
  const n = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getBigUint64(0, true)
  if (n > BigInt(MAX_HEADER_BYTES)) return E.left(`header length ${n} is above the limit of ${MAX_HEADER_BYTES} bytes`)
  if (n > BigInt(bytes.length - 8)) return E.left(`header length ${n} runs past the end of the file (${bytes.length} bytes)`)
  const dataStart = 8 + Number(n)
  const header = parseHeader(bytes.subarray(8, dataStart))
  if (E.isLeft(header)) return header
  const { obj, keys } = header.right
  const metadata = Object.hasOwn(obj, '__metadata__') ? parseMetadata(obj.__metadata__) : E.right({})
  if (E.isLeft(metadata)) return metadata
  const entries: Entry[] = []
  for (const key of keys.filter((k) => k !== '__metadata__')) {
    const entry = parseEntry(key, obj[key], bytes.length - dataStart)
    if (E.isLeft(entry)) return entry
    entries.push(entry.right)
  }
  const overlap = findOverlap(entries)
  if (overlap !== undefined) return E.left(overlap)
  const tensors = new Map<string, HostTensor>()
  for (const { name, dtype, shape, begin, end } of entries) {
    // Views into the file's bytes where aligned on a little-endian host (the file buffer is
    // ours; fresh memory is slow to fault in on some VMs, ~4 s for a base model), else a copy.
    const raw = bytes.subarray(dataStart + begin, dataStart + end)
    const inPlace = hostIsLittleEndian && raw.byteOffset % decoders[dtype].size === 0
    const t = { ...decoders[dtype].decode(inPlace ? raw : new Uint8Array(raw)), shape }
    if (t.dtype === 'bool' && (t.data as Uint8Array).some((x) => x > 1)) return E.left(`tensor '${name}': BOOL byte not 0 or 1`)
    tensors.set(name, t)
  }
  return E.right({ tensors, metadata: metadata.right })
}

/** Parses the bytes of a safetensors file; `source` names it in error messages. Tensors may view `bytes` (do not reuse it). */
export const parseSafetensors = (bytes: Uint8Array, source: string): E.Either<CmgaError, SafetensorsFile> =>
  E.mapLeft((msg: string) => cmgaError('format', `${source}: ${msg}`))(parseBody(bytes))

/** Reads and parses a safetensors file (an unreadable file is an `io` error). */
export const readSafetensors = (path: string): E.Either<CmgaError, SafetensorsFile> => {
  let bytes: Uint8Array
  try {
    bytes = readFileSync(path)
  } catch (e) {
    return fail('io', `cannot read ${path}: ${readProblem(e)}`)
  }
  return parseSafetensors(bytes, path)
}
