/**
 * The safetensors store (the default): an index folder of shards `images-NNNNN.safetensors`
 * (`global` [n, E], `tokens` [n, Tv - 1, E], the images' names in the metadata) and
 * `texts.safetensors`, described by `index.json` (see gallery.ts). Opening reads every
 * shard into memory; stage 1 is brute force over the global features.
 * @since 0.2.0
 */
import { join } from 'node:path'
import * as E from 'fp-ts/lib/Either.js'
import * as TE from 'fp-ts/lib/TaskEither.js'
import { pipe } from 'fp-ts/lib/function.js'
import type { CmgaError } from '../../../compiler/errors.js'
import { cmgaError, fail } from '../../../compiler/errors.js'
import type { HostTensor } from '../../../compiler/ir/tensor.js'
import { readSafetensors, writeSafetensorsAtomic } from '../../../runtime/safetensors/index.js'
import type { ImageFeatures } from '../../cmga/features.js'
import { concatImages, selectImages } from '../../cmga/features.js'
import type { IndexManifest } from './manifest.js'
import type { ImageStore, StoredTexts, StoreWriter } from './store.js'
import { bruteForce } from './store.js'

// -------------------------------------------------------------------------------------
// helpers
// -------------------------------------------------------------------------------------

const tensor = (file: { tensors: ReadonlyMap<string, HostTensor> }, name: string, path: string): E.Either<CmgaError, HostTensor<'float32'>> => {
  const x = file.tensors.get(name)
  return x === undefined ? fail('format', `${path}: no tensor "${name}"`) : E.right(x as HostTensor<'float32'>)
}

/** The file of the `k`-th image shard. */
export const shardName = (k: number): string => `images-${String(k).padStart(5, '0')}.safetensors`

// -------------------------------------------------------------------------------------
// reading
// -------------------------------------------------------------------------------------

/** The image store of a safetensors index at `path`, read into memory. */
export const openSafetensorsStore = (path: string, m: IndexManifest): E.Either<CmgaError, ImageStore | null> => {
  const im = m.images
  if (im === null) return E.right(null)
  const parts = im.shards.map((s) =>
    pipe(
      readSafetensors(join(path, s.file)),
      E.chain((f) => E.map((global: HostTensor<'float32'>) => ({ f, global }))(tensor(f, 'global', s.file))),
      E.chain(({ f, global }) => E.map((tokens: HostTensor<'float32'>) => ({ global, tokens, paths: JSON.parse(f.metadata.paths ?? '[]') as string[] }))(tensor(f, 'tokens', s.file)))
    )
  )
  const bad = parts.find(E.isLeft)
  if (bad !== undefined) return bad
  const ok = parts.map((p) => (p as E.Right<{ global: HostTensor<'float32'>; tokens: HostTensor<'float32'>; paths: string[] }>).right)
  const names = ok.flatMap((p) => p.paths)
  const features: ImageFeatures = concatImages(ok.map((p) => ({ global: p.global, tokens: p.tokens })))
  return E.right({
    kind: 'safetensors',
    location: path,
    model: m.model,
    root: im.root,
    size: names.length,
    hasAnn: false,
    shard: m.shard ?? null,
    candidates: (query, n, search) =>
      search.kind === 'ann'
        ? TE.left(cmgaError('usage', `index ${path} is a safetensors index, which has no ANN index (build one with cmga index --store lance --ann)`))
        : TE.right(bruteForce(query, features.global.data, n)),
    take: (rows) => TE.right({ names: rows.map((r) => names[r]), features: selectImages(features, rows) }),
    names: () => TE.right(names),
    close: async () => undefined
  })
}

/** The texts of a safetensors index, or null. */
export const readSafetensorsTexts = (path: string, m: IndexManifest): E.Either<CmgaError, StoredTexts | null> => {
  const tx = m.texts
  if (tx === null) return E.right(null)
  return pipe(
    readSafetensors(join(path, tx.file)),
    E.chain((f) =>
      pipe(
        E.Do,
        E.bind('global', () => tensor(f, 'global', tx.file)),
        E.bind('tokens', () => tensor(f, 'tokens', tx.file)),
        E.bind('mask', () => E.map((m: HostTensor) => m as HostTensor<'int64'>)(tensor(f, 'mask', tx.file)))
      )
    ),
    E.map((features) => ({ texts: tx.texts, features }))
  )
}

// -------------------------------------------------------------------------------------
// writing
// -------------------------------------------------------------------------------------

/** Writes shards and texts into the build folder `partial`, each file atomically. */
export const safetensorsWriter = (partial: string): StoreWriter => ({
  append: (k, first, names, f) =>
    TE.fromEither(E.map(() => ({ file: shardName(k), first, count: names.length }))(writeSafetensorsAtomic(join(partial, shardName(k)), { global: f.global, tokens: f.tokens }, { paths: JSON.stringify(names) }))),
  writeTexts: (_, f) => TE.fromEither(E.map(() => 'texts.safetensors')(writeSafetensorsAtomic(join(partial, 'texts.safetensors'), { global: f.global, tokens: f.tokens, mask: f.mask }))),
  finish: (ann) => (ann === null ? TE.right(undefined) : TE.left(cmgaError('usage', '--ann needs --store lance (a safetensors index is searched by brute force)'))),
  close: async () => undefined
})
