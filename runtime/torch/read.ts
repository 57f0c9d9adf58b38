/**
 * PyTorch checkpoint reader (`torch.save` since 1.6: a zip archive holding `data.pkl`
 * and one `data/KEY` entry per storage). Finds the state dict (the top level, or its
 * `model` / `state_dict` / `module` entry, as ALBEF and common trainers save it) and
 * rebuilds each tensor from its storage, strides and offset included. Half and
 * bfloat16 become float32; integer types become int64. Every failure is one `format`
 * error naming the file and what is wrong.
 * @since 0.1.0
 */
import { readFileSync } from 'node:fs'
import * as E from 'fp-ts/lib/Either.js'
import { unzipSync } from 'fflate'
import { crcMatches, zipCrcs } from './zip-crc.js'
import type { CmgaError } from '../../compiler/errors.js'
import { fail, readProblem } from '../../compiler/errors.js'
import type { HostTensor } from '../../compiler/ir/tensor.js'
import { sizeOf, zeros } from '../../compiler/ir/tensor.js'
import { forEachStrided, isRowMajor } from '../../compiler/ir/strided.js'
import type { StorageType, TensorRef } from './unpickle.js'
import { isTensorRef, unpickle } from './unpickle.js'
import type { Decoded } from './elements.js'
import { decodeElements } from './elements.js'

/** A read checkpoint: tensors by state-dict name, and the torch storage type each came from. */
export interface TorchCheckpoint {
  readonly tensors: ReadonlyMap<string, HostTensor>
  /** State-dict tensors left unread because `keep` turned them down. */
  readonly skipped: readonly string[]
  readonly sourceTypes: ReadonlyMap<string, StorageType>
  /** Where in the file the state dict was: '' (top level), 'model', 'state_dict' or 'module'. */
  readonly entry: string
}

/** Whether bytes start like a PyTorch checkpoint (a zip archive, or the legacy pickle format). */
export const looksLikeTorch = (head: Uint8Array): boolean => (head[0] === 0x50 && head[1] === 0x4b) || (head[0] === 0x80 && head[1] >= 2 && head[1] <= 5)

const ENTRIES = ['model', 'state_dict', 'module'] as const

/** The state dict inside the unpickled object, or why there is none. */
const stateDict = (root: unknown): { dict: Map<unknown, unknown>; entry: string } | string => {
  if (!(root instanceof Map)) return `its top level is not a dict (${typeof root})`
  const tensors = (m: Map<unknown, unknown>): number => [...m.values()].filter(isTensorRef).length
  if (tensors(root) > 0) return { dict: root, entry: '' }
  for (const k of ENTRIES) {
    const v = root.get(k)
    if (v instanceof Map && tensors(v) > 0) return { dict: v, entry: k }
  }
  const keys = [...root.keys()].map(String)
  return `no state dict: the top level holds ${keys.length === 0 ? 'nothing' : keys.slice(0, 8).join(', ')} (expected tensors, or a ${ENTRIES.join(' / ')} entry of tensors)`
}

/** Elements the view reads from its storage: the last index it touches plus one. */
const extent = (t: TensorRef): number =>
  t.shape.some((d) => d === 0) ? 0 : t.offset + t.shape.reduce((a, d, i) => a + (d - 1) * t.strides[i], 0) + 1

/** Reads a PyTorch checkpoint file: the state-dict tensors `keep` accepts (default: all; the data of the others is never read). */
export const readTorchCheckpoint = (path: string, keep: (name: string) => boolean = () => true): E.Either<CmgaError, TorchCheckpoint> => {
  let bytes: Uint8Array
  try {
    const b = readFileSync(path)
    bytes = new Uint8Array(b.buffer, b.byteOffset, b.byteLength)
  } catch (e) {
    return fail('io', `cannot read ${path}: ${readProblem(e)}`)
  }
  if (bytes[0] === 0x80) return fail('format', `${path}: the legacy (before PyTorch 1.6) checkpoint format is not supported; re-save it with torch.save in PyTorch 1.6 or later`)
  let pkl: [string, Uint8Array] | undefined
  try {
    pkl = Object.entries(unzipSync(bytes, { filter: (f) => /(^|\/)data\.pkl$/.test(f.name) }))[0]
  } catch (e) {
    return fail('format', `${path}: not a readable PyTorch checkpoint (zip archive): ${(e as Error).message}`)
  }
  if (pkl === undefined) return fail('format', `${path}: a zip archive without data.pkl, so not a PyTorch checkpoint`)
  const crcs = zipCrcs(bytes)
  if (typeof crcs === 'string') return fail('format', `${path}: not a readable zip archive: ${crcs}`)
  const corrupted = (name: string): E.Either<CmgaError, never> => fail('format', `${path}: ${name} fails its CRC-32 check: the file is corrupted`)
  if (!crcMatches(crcs, pkl[0], pkl[1])) return corrupted(pkl[0])
  const prefix = pkl[0].slice(0, -'data.pkl'.length)
  let root: unknown
  try {
    root = unpickle(pkl[1])
  } catch (e) {
    return fail('format', `${path}: cannot read its pickle: ${(e as Error).message}`)
  }
  const found = stateDict(root)
  if (typeof found === 'string') return fail('format', `${path}: ${found}`)
  const all = [...found.dict].filter((kv): kv is [unknown, TensorRef] => isTensorRef(kv[1])).map(([k, t]) => [String(k), t] as const)
  const refs = all.filter(([k]) => keep(k))
  const skipped = all.filter(([k]) => !keep(k)).map(([k]) => k)
  const wanted = new Set(refs.map(([, t]) => `${prefix}data/${t.storage.key}`))
  let storages: Record<string, Uint8Array>
  try {
    storages = unzipSync(bytes, { filter: (f) => wanted.has(f.name) })
  } catch (e) {
    return fail('format', `${path}: cannot read its tensor data: ${(e as Error).message}`)
  }
  const tensors = new Map<string, HostTensor>()
  const sourceTypes = new Map<string, StorageType>()
  const checked = new Set<string>()
  for (const [name, t] of refs) {
    const raw = storages[`${prefix}data/${t.storage.key}`]
    if (raw === undefined) return fail('format', `${path}: tensor ${name}: its storage data/${t.storage.key} is missing from the archive`)
    const entry = `${prefix}data/${t.storage.key}`
    if (!checked.has(entry)) {
      if (!crcMatches(crcs, entry, raw)) return corrupted(`storage data/${t.storage.key} (tensor ${name})`)
      checked.add(entry) // views of one storage share it: each storage is checked once
    }
    if (t.shape.length !== t.strides.length || t.shape.some((d) => !Number.isInteger(d) || d < 0)) return fail('format', `${path}: tensor ${name}: bad shape [${t.shape.join(', ')}] or strides [${t.strides.join(', ')}]`)
    const decoded = decodeElements(t.storage.type, raw, t.storage.numel)
    if (typeof decoded === 'string') return fail('format', `${path}: tensor ${name}: storage data/${t.storage.key}: ${decoded}`)
    if (extent(t) > t.storage.numel) return fail('format', `${path}: tensor ${name} [${t.shape.join(', ')}] at offset ${t.offset} reads past its storage of ${t.storage.numel} elements`)
    tensors.set(name, { dtype: decoded.dtype, shape: t.shape, data: view(decoded, t) } as HostTensor)
    sourceTypes.set(name, t.storage.type)
  }
  return E.right({ tensors, skipped, sourceTypes, entry: found.entry })
}

type Elements = Decoded['data']

/** The strided view `t` of a storage's elements, row-major: the elements themselves when the view is all of them in order. */
const view = (decoded: Decoded, t: TensorRef): Elements => {
  const src = decoded.data
  const n = sizeOf(t.shape)
  if (isRowMajor(t.shape, t.strides)) return t.offset === 0 && n === src.length ? src : (src.slice(t.offset, t.offset + n) as Elements)
  const dst = zeros(decoded.dtype, t.shape).data as unknown as { [i: number]: number | bigint }
  forEachStrided(t.shape, t.strides, t.offset, (k, pos) => (dst[k] = src[pos]))
  return dst as unknown as Elements
}
