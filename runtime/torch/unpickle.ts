/**
 * The pickle inside a PyTorch checkpoint (`data.pkl`), read without running it:
 * pickleparser interprets the opcodes, and only the few torch and collections names a
 * state dict needs are given meaning here. Every other global (`os.system` in a hostile
 * file) becomes an inert placeholder object, so loading never executes anything.
 * @since 0.1.0
 */
import { NameRegistry, Parser } from 'pickleparser'

/** Storage element types a checkpoint may hold, by torch's storage class name. */
export const STORAGE_TYPES = ['Float', 'Half', 'BFloat16', 'Double', 'Long', 'Int', 'Short', 'Char', 'Byte', 'Bool'] as const
export type StorageType = (typeof STORAGE_TYPES)[number]

/** A storage the pickle refers to: its entry `data/KEY` in the archive holds `numel` elements. */
export interface StorageRef {
  readonly kind: 'storage'
  readonly type: StorageType
  readonly key: string
  readonly numel: number
}

/** A tensor the pickle rebuilds: a strided view of a storage. */
export interface TensorRef {
  readonly kind: 'tensor'
  readonly storage: StorageRef
  readonly offset: number
  readonly shape: readonly number[]
  readonly strides: readonly number[]
}

/** Whether a value from the pickle is a tensor. */
export const isTensorRef = (v: unknown): v is TensorRef => typeof v === 'object' && v !== null && (v as { kind?: unknown }).kind === 'tensor'

const ints = (v: unknown): number[] => (Array.isArray(v) ? v.map(Number) : [])

const tensor = (storage: unknown, offset: unknown, size: unknown, stride: unknown): TensorRef => {
  if (typeof storage !== 'object' || storage === null || (storage as { kind?: unknown }).kind !== 'storage') throw new Error('a tensor is rebuilt from something that is not a storage')
  return { kind: 'tensor', storage: storage as StorageRef, offset: Number(offset), shape: ints(size), strides: ints(stride) }
}

const names = (): NameRegistry => {
  const r = new NameRegistry()
  r.register('collections', 'OrderedDict', () => new Map())
  r.register('torch._utils', '_rebuild_tensor_v2', tensor)
  r.register('torch._utils', '_rebuild_tensor', tensor)
  r.register('torch._utils', '_rebuild_parameter', (data: unknown) => data)
  r.register('torch._utils', '_rebuild_parameter_with_state', (data: unknown) => data)
  r.register('torch._tensor', '_rebuild_from_type_v2', (f: (...a: unknown[]) => unknown, _type: unknown, args: unknown[]) => f(...args))
  for (const t of STORAGE_TYPES) r.register('torch', `${t}Storage`, Object.assign(() => undefined, { storageType: t }))
  return r
}

/** `('storage', torch.XStorage, key, location, numel)` -> a storage reference. */
const storage = (pid: unknown): StorageRef => {
  if (!Array.isArray(pid) || pid[0] !== 'storage') throw new Error(`unknown persistent id ${JSON.stringify(pid)}`)
  const type = (pid[1] as { storageType?: StorageType } | undefined)?.storageType
  if (type === undefined) throw new Error(`storage ${String(pid[2])} has a type this reader does not know (${String((pid[1] as { __name__?: string })?.__name__ ?? pid[1])})`)
  return { kind: 'storage', type, key: String(pid[2]), numel: Number(pid[4]) }
}

/** The object a `data.pkl` describes, with tensors as `TensorRef`s and dicts as Maps. */
export const unpickle = (bytes: Uint8Array): unknown =>
  new Parser({ nameResolver: names(), persistentResolver: { resolve: storage }, unpicklingTypeOfDictionary: 'Map' }).parse(bytes)
