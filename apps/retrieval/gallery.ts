/**
 * A gallery index: a folder of images (and optionally a list of texts) embedded once
 * with a model, for retrieval by `cmga retrieve`.
 *
 * Layout of INDEX/: `index.json` (what was indexed, with which model), shards
 * `images-NNNNN.safetensors` (`global` [n, E], `tokens` [n, Tv - 1, E]) and
 * `texts.safetensors` (`global`, `tokens`, `mask`). It is built in `INDEX.partial/`,
 * every file written atomically and `progress.json` updated after each shard, and
 * renamed to INDEX only when complete: an interrupted build resumes from its last
 * shard, and INDEX never exists half-written.
 * @since 0.1.0
 */
import { existsSync, mkdirSync, renameSync, rmSync, statSync } from 'node:fs'
import { join, resolve } from 'node:path'
import * as E from 'fp-ts/lib/Either.js'
import * as TE from 'fp-ts/lib/TaskEither.js'
import { pipe } from 'fp-ts/lib/function.js'
import * as t from 'io-ts'
import type { CmgaError } from '../../compiler/errors.js'
import { failedPaths } from '../../runtime/model/manifest.js'
import { cmgaError, fail } from '../../compiler/errors.js'
import type { HostTensor } from '../../compiler/ir/tensor.js'
import type { ImageFeatures } from '../cmga/features.js'
import { concatImages } from '../cmga/features.js'
import type { ModelIdentity } from '../../runtime/model/fingerprint.js'
import { describeModel } from '../../runtime/model/fingerprint.js'
import type { Runtime, ScoredTexts } from '../cmga/runtime.js'
import type { OnImageError } from '../../runtime/images/batch.js'
import { listImages, loadImages } from '../../runtime/images/batch.js'
import { readSafetensors, writeSafetensorsAtomic } from '../../runtime/safetensors/index.js'
import { readJson, writeTextAtomic } from './files.js'
import { encodeScoredTexts } from './scored-texts.js'

// -------------------------------------------------------------------------------------
// model
// -------------------------------------------------------------------------------------

const Identity = t.type({ fingerprint: t.string, dir: t.string, weights: t.string, quantize: t.string })
const Shard = t.type({ file: t.string, first: t.number, count: t.number })
const Skipped = t.type({ path: t.string, reason: t.string })
const ImagesPart = t.type({ root: t.string, files: t.array(t.string), shards: t.array(Shard), skipped: t.array(Skipped) })
const TextsPart = t.type({ file: t.string, texts: t.array(t.string) })

/** `index.json`. */
export const IndexCodec = t.type({
  format: t.literal('cmga-index'),
  formatVersion: t.literal(1),
  model: Identity,
  images: t.union([ImagesPart, t.null]),
  texts: t.union([TextsPart, t.null])
})

/** `index.json`, decoded. */
export type IndexManifest = t.TypeOf<typeof IndexCodec>

/** `progress.json` of a build in progress. */
const ProgressCodec = t.type({ model: Identity, root: t.string, files: t.array(t.string), shards: t.array(Shard), skipped: t.array(Skipped) })
type Progress = t.TypeOf<typeof ProgressCodec>

/** What to index. */
export interface BuildRequest {
  readonly runtime: Runtime
  /** A folder of images (searched recursively), or none. */
  readonly images?: string
  /** Texts to index for image-to-text retrieval, or none. */
  readonly texts?: readonly string[]
  readonly out: string
  readonly onError: OnImageError
  /** Images per shard (default 64). */
  readonly shardSize?: number
  /** Called after each shard with images done and total. */
  readonly onProgress?: (done: number, total: number) => void
  /** Replace an existing `out` (once the new index is complete). */
  readonly force?: boolean
  /** Where lines about resuming or starting over go. */
  readonly log?: (line: string) => void
}

/** An opened index: features in memory, in gallery order. */
export interface Gallery {
  readonly path: string
  readonly manifest: IndexManifest
  /** The images' paths relative to `root` and their features, or null. */
  readonly images: { readonly root: string; readonly paths: readonly string[]; readonly features: ImageFeatures } | null
  readonly texts: { readonly texts: readonly string[]; readonly features: ScoredTexts } | null
}

// -------------------------------------------------------------------------------------
// helpers
// -------------------------------------------------------------------------------------

const decode = <A>(codec: t.Decoder<unknown, A>, json: unknown, path: string, what: string): E.Either<CmgaError, A> =>
  E.mapLeft((errs: t.Errors): CmgaError => {
    return cmgaError('format', `${path}: not ${what} (bad or missing: ${failedPaths(errs).slice(0, 5).join(', ')})`)
  })(codec.decode(json))

const json = (v: unknown): string => JSON.stringify(v, null, 1) + '\n'

const sameList = (a: readonly string[], b: readonly string[]): boolean => a.length === b.length && a.every((x, i) => x === b[i])

const shardName = (k: number): string => `images-${String(k).padStart(5, '0')}.safetensors`

const identityOf = (m: ModelIdentity): ModelIdentity => ({ fingerprint: m.fingerprint, dir: m.dir, weights: m.weights, quantize: m.quantize })

// -------------------------------------------------------------------------------------
// building
// -------------------------------------------------------------------------------------

/**
 * Starts or resumes `OUT.partial`; the progress so far. A `.partial` folder without a
 * readable `progress.json` (killed before its first write) holds nothing to resume
 * from: it is started over.
 */
const startBuild = (partial: string, model: ModelIdentity, root: string, files: readonly string[], log: (line: string) => void): E.Either<CmgaError, Progress> => {
  const progressPath = join(partial, 'progress.json')
  const fresh: Progress = { model, root, files: [...files], shards: [], skipped: [] }
  if (existsSync(partial) && E.isLeft(E.chain((j: unknown) => decode(ProgressCodec, j, progressPath, 'an index progress file'))(readJson(progressPath, 'progress')))) {
    log(`${partial} has no readable progress.json (nothing to resume from): starting over`)
    rmSync(partial, { recursive: true, force: true })
  }
  if (!existsSync(partial)) {
    try {
      mkdirSync(partial)
    } catch (e) {
      return fail('io', `cannot create ${partial}: ${(e as Error).message}`)
    }
    return E.map(() => fresh)(writeTextAtomic(progressPath, json(fresh)))
  }
  return pipe(
    readJson(progressPath, 'unfinished index progress'),
    E.chain((j) => decode(ProgressCodec, j, progressPath, 'an index progress file')),
    E.chain((p) =>
      p.model.fingerprint === model.fingerprint && p.root === root && sameList(p.files, files)
        ? E.right((log(`resuming: ${p.shards.reduce((n, s) => n + s.count, 0) + p.skipped.length} of ${files.length} images already indexed`), p))
        : fail<Progress>('input', `${partial} holds an unfinished index of other images or built by another model (${p.model.weights}); remove it to start over`)
    )
  )
}

const embedShards = (req: BuildRequest, partial: string, root: string, start: Progress): TE.TaskEither<CmgaError, Progress> => async () => {
  const size = req.shardSize ?? 64
  const S = req.runtime.config.vision.imageSize
  let p = start
  const total = p.files.length
  const load = (from: number): ReturnType<typeof loadImages> => loadImages(start.files.slice(from, from + size).map((n) => join(root, n)), S, { onError: req.onError })
  let first = p.shards.reduce((n, s) => n + s.count, 0) + p.skipped.length
  // The next shard's images are decoded while this one's are encoded.
  let next = first < total ? load(first) : null
  while (first < total) {
    req.onProgress?.(first, total)
    const names = p.files.slice(first, first + size)
    const loaded = await (next as ReturnType<typeof load>)
    next = first + size < total ? load(first + size) : null
    if (E.isLeft(loaded)) return loaded
    const skipped = [...p.skipped, ...loaded.right.skipped.map((s) => ({ path: names[s.index], reason: s.reason }))]
    const shards = [...p.shards]
    if (loaded.right.indices.length > 0) {
      const f = await req.runtime.encodeImages(loaded.right.pixels)()
      if (E.isLeft(f)) return f
      const file = shardName(shards.length)
      const w = writeSafetensorsAtomic(join(partial, file), { global: f.right.global, tokens: f.right.tokens }, { paths: JSON.stringify(loaded.right.indices.map((i) => names[i])) })
      if (E.isLeft(w)) return w
      shards.push({ file, first, count: loaded.right.indices.length })
    }
    p = { ...p, shards, skipped }
    const saved = writeTextAtomic(join(partial, 'progress.json'), json(p))
    if (E.isLeft(saved)) return saved
    first += names.length
  }
  req.onProgress?.(total, total)
  return E.right(p)
}

/**
 * Builds (or resumes building) an index at `req.out`. A folder that is missing or has
 * no image, an unreadable image under `onError: 'fail'`, or an existing `out` is an
 * error; `out` appears only once everything is written.
 */
export const buildIndex = (req: BuildRequest): TE.TaskEither<CmgaError, IndexManifest> => {
  const out = resolve(req.out)
  const partial = `${out}.partial`
  if (existsSync(out) && req.force !== true) return TE.left(cmgaError('usage', `--out ${req.out} already exists (use --force to replace it)`))
  if (req.images === undefined && (req.texts === undefined || req.texts.length === 0)) return TE.left(cmgaError('usage', 'nothing to index: give a folder of images, texts, or both'))
  const model = identityOf(req.runtime.identity)
  let owned = false // whether this build made or resumed OUT.partial (and so may clean it up)
  const images: TE.TaskEither<CmgaError, IndexManifest['images']> =
    req.images === undefined
      ? TE.right(null)
      : pipe(
          () => listImages(req.images as string),
          TE.chainEitherK((files) => E.map((p: Progress) => ((owned = true), { files, p }))(startBuild(partial, model, resolve(req.images as string), files, req.log ?? (() => undefined)))),
          TE.chain(({ files, p }) =>
            pipe(
              embedShards(req, partial, resolve(req.images as string), p),
              TE.chain((done) =>
                done.shards.length === 0
                  ? TE.left(cmgaError('input', `no image in ${req.images} could be read (${done.skipped.map((s) => s.path).slice(0, 3).join(', ')}${done.skipped.length > 3 ? ', ...' : ''} skipped)`))
                  : TE.right({ root: resolve(req.images as string), files: [...files], shards: done.shards, skipped: done.skipped })
              )
            )
          )
        )
  const texts = (): TE.TaskEither<CmgaError, IndexManifest['texts']> =>
    req.texts === undefined || req.texts.length === 0
      ? TE.right(null)
      : pipe(
          encodeScoredTexts(req.runtime, req.texts),
          TE.chainEitherK((f) => writeSafetensorsAtomic(join(partial, 'texts.safetensors'), { global: f.global, tokens: f.tokens, mask: f.mask })),
          TE.map(() => ({ file: 'texts.safetensors', texts: [...(req.texts as readonly string[])] }))
        )
  return pipe(
    images,
    TE.chainFirstEitherK(() =>
      existsSync(partial) ? E.right(undefined) : E.tryCatch(() => ((owned = true), mkdirSync(partial)), (e) => cmgaError('io', `cannot create ${partial}: ${(e as Error).message}`))
    ),
    TE.bindTo('images'),
    TE.bind('texts', texts),
    TE.map(({ images: im, texts: tx }): IndexManifest => ({ format: 'cmga-index', formatVersion: 1, model, images: im, texts: tx })),
    TE.chainFirstEitherK((m) => writeTextAtomic(join(partial, 'index.json'), json(m))),
    TE.chainFirstEitherK(() =>
      E.tryCatch(() => {
        rmSync(join(partial, 'progress.json'), { force: true })
        const old = existsSync(out) ? `${partial}.old` : null // --force: the old index goes only once the new one is complete
        if (old !== null) renameSync(out, old)
        renameSync(partial, out)
        if (old !== null) rmSync(old, { recursive: true, force: true })
      }, (e) => cmgaError('io', `cannot move ${partial} to ${out}: ${(e as Error).message}`))
    ),
    TE.orElse((e) => {
      // Nothing embedded: leave nothing behind. Otherwise keep the shards to resume from.
      if (!owned) return TE.left(e)
      if (embeddedSoFar(partial) === 0) {
        rmSync(partial, { recursive: true, force: true })
        return TE.left(e)
      }
      return TE.left(cmgaError(e.kind, `${e.message} (the images embedded so far are kept in ${partial}; the same command resumes)`))
    })
  )
}

/** Images embedded in a partial build, by its progress file (0 when there is none). */
const embeddedSoFar = (partial: string): number => {
  const p = E.chain((j: unknown) => decode(ProgressCodec, j, partial, 'progress'))(readJson(join(partial, 'progress.json'), 'progress'))
  return E.isRight(p) ? p.right.shards.reduce((n, s) => n + s.count, 0) : 0
}

// -------------------------------------------------------------------------------------
// opening
// -------------------------------------------------------------------------------------

const tensor = (file: { tensors: ReadonlyMap<string, HostTensor> }, name: string, path: string): E.Either<CmgaError, HostTensor<'float32'>> => {
  const x = file.tensors.get(name)
  return x === undefined ? fail('format', `${path}: no tensor "${name}"`) : E.right(x as HostTensor<'float32'>)
}

/** Opens an index built by the runtime's model; an index built by another model is an error naming both. */
export const openIndex = (path: string, runtime: Runtime): E.Either<CmgaError, Gallery> => {
  if (!existsSync(path) || !statSync(path).isDirectory()) {
    const partial = existsSync(`${resolve(path)}.partial`) ? ` (${path}.partial is an unfinished build: rerun cmga index to finish it)` : ''
    return fail('io', `index ${path}: no such index folder${partial}`)
  }
  const file = join(path, 'index.json')
  return pipe(
    readJson(file, 'index'),
    E.chain((j) => decode(IndexCodec, j, file, 'a cmga index')),
    E.chainFirst((m) =>
      m.model.fingerprint === runtime.identity.fingerprint
        ? E.right(undefined)
        : fail('input', `index ${path} was built by another model: ${describeModel(m.model)}, not ${describeModel(runtime.identity)}; rebuild it with cmga index --model ${runtime.identity.dir}`)
    ),
    E.bindTo('manifest'),
    E.bind('images', ({ manifest }) => {
      const im = manifest.images
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
      return E.right({ root: im.root, paths: ok.flatMap((p) => p.paths), features: concatImages(ok.map((p) => ({ global: p.global, tokens: p.tokens }))) })
    }),
    E.bind('texts', ({ manifest }) => {
      const tx = manifest.texts
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
    }),
    E.map(({ manifest, images, texts }) => ({ path, manifest, images, texts }))
  )
}
