/**
 * A gallery index: a folder of images (and optionally a list of texts) embedded once
 * with a model, for retrieval by `cmga retrieve`, in one of two stores (store/):
 *
 * - safetensors (the default): INDEX/ holds `index.json` (what was indexed, with which
 *   model), shards `images-NNNNN.safetensors` and `texts.safetensors`;
 * - lance (`--store lance`): INDEX/ is a LanceDB database (store/lance.ts).
 *
 * Either is built in `INDEX.partial/`, `progress.json` updated after each batch of
 * images (a shard file written atomically, or a Lance commit whose version is recorded),
 * and renamed to INDEX only when complete: an interrupted build resumes from its last
 * batch, and INDEX never exists half-written. `shard` builds one part of a gallery on
 * several machines (image k of the sorted list goes to part k mod n); merge.ts joins
 * the parts.
 * @since 0.1.0
 */
import { existsSync, mkdirSync, renameSync, rmSync, statSync } from 'node:fs'
import { join, resolve } from 'node:path'
import * as E from 'fp-ts/lib/Either.js'
import * as TE from 'fp-ts/lib/TaskEither.js'
import { pipe } from 'fp-ts/lib/function.js'
import type { CmgaError } from '../../compiler/errors.js'
import { cmgaError, fail } from '../../compiler/errors.js'
import type { ModelIdentity } from '../../runtime/model/fingerprint.js'
import { describeModel } from '../../runtime/model/fingerprint.js'
import type { Runtime } from '../cmga/runtime.js'
import type { OnImageError } from '../../runtime/images/batch.js'
import { listImages, loadImages } from '../../runtime/images/batch.js'
import { readJson, writeTextAtomic } from './files.js'
import { encodeScoredTexts } from './scored-texts.js'
import type { IndexManifest, LanceMeta, Progress, SkippedImage } from './store/manifest.js'
import { IndexCodec, ProgressCodec, decode, embeddedCount, identityOf } from './store/manifest.js'
import type { AnnParams, ImageStore, ShardOf, StoredTexts, StoreKind, StoreWriter } from './store/store.js'
import { connect, hasImagesTable, isUri, lanceWriter, openLanceStore, readLanceTexts } from './store/lance.js'
import { openSafetensorsStore, readSafetensorsTexts, safetensorsWriter } from './store/safetensors.js'

// -------------------------------------------------------------------------------------
// model
// -------------------------------------------------------------------------------------

/** What to index. */
export interface BuildRequest {
  readonly runtime: Runtime
  /** A folder of images (searched recursively), or none. */
  readonly images?: string
  /** Texts to index for image-to-text retrieval, or none. */
  readonly texts?: readonly string[]
  readonly out: string
  readonly onError: OnImageError
  /** Where the features go (default safetensors). */
  readonly store?: StoreKind
  /** Build only this part of the gallery (texts go with part 0). */
  readonly shard?: ShardOf
  /** Build an ANN index over the global features (Lance only). */
  readonly ann?: AnnParams
  /** Images per shard (default 64). */
  readonly shardSize?: number
  /** Called after each shard with images done and total. */
  readonly onProgress?: (done: number, total: number) => void
  /** Replace an existing `out` (once the new index is complete). */
  readonly force?: boolean
  /** Where lines about resuming or starting over go. */
  readonly log?: (line: string) => void
}

/** What a build wrote. */
export interface BuildSummary {
  readonly store: StoreKind
  readonly images: { readonly count: number; readonly skipped: readonly SkippedImage[] } | null
  readonly texts: number | null
}

/** An opened index. */
export interface Gallery {
  readonly path: string
  readonly model: ModelIdentity
  /** Its images, or null when it was built without. */
  readonly images: ImageStore | null
  readonly texts: StoredTexts | null
  /** Releases the store. */
  readonly close: () => Promise<void>
}

// -------------------------------------------------------------------------------------
// helpers
// -------------------------------------------------------------------------------------

const json = (v: unknown): string => JSON.stringify(v, null, 1) + '\n'

const sameList = (a: readonly string[], b: readonly string[]): boolean => a.length === b.length && a.every((x, i) => x === b[i])

/** The images of part `shard` of a sorted list. */
export const shardFiles = (files: readonly string[], shard: ShardOf | undefined): string[] =>
  shard === undefined ? [...files] : files.filter((_, k) => k % shard.count === shard.index)

// -------------------------------------------------------------------------------------
// building
// -------------------------------------------------------------------------------------

/**
 * Starts or resumes `OUT.partial`; the progress so far. A `.partial` folder without a
 * readable `progress.json` (killed before its first write) holds nothing to resume
 * from: it is started over.
 */
const startBuild = (partial: string, store: StoreKind, model: ModelIdentity, root: string, files: readonly string[], log: (line: string) => void): E.Either<CmgaError, Progress> => {
  const progressPath = join(partial, 'progress.json')
  const fresh: Progress = { model, root, files: [...files], shards: [], skipped: [], store }
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
      (p.store ?? 'safetensors') !== store
        ? fail<Progress>('input', `${partial} holds an unfinished ${p.store ?? 'safetensors'} index, not ${store}; finish it with --store ${p.store ?? 'safetensors'} or remove it to start over`)
        : p.model.fingerprint === model.fingerprint && p.root === root && sameList(p.files, files)
          ? E.right((log(`resuming: ${embeddedCount(p) + p.skipped.length} of ${files.length} images already indexed`), p))
          : fail<Progress>('input', `${partial} holds an unfinished index of other images or built by another model (${p.model.weights}); remove it to start over`)
    )
  )
}

const embedShards = (req: BuildRequest, w: StoreWriter, partial: string, root: string, start: Progress): TE.TaskEither<CmgaError, Progress> => async () => {
  const size = req.shardSize ?? 64
  const S = req.runtime.config.vision.imageSize
  let p = start
  const total = p.files.length
  const load = (from: number): ReturnType<typeof loadImages> => loadImages(start.files.slice(from, from + size).map((n) => join(root, n)), S, { onError: req.onError })
  let first = embeddedCount(p) + p.skipped.length
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
      const written = await w.append(shards.length, first, loaded.right.indices.map((i) => names[i]), f.right)()
      if (E.isLeft(written)) return written
      shards.push(written.right)
    }
    p = { ...p, shards, skipped }
    const saved = writeTextAtomic(join(partial, 'progress.json'), json(p))
    if (E.isLeft(saved)) return saved
    first += names.length
  }
  req.onProgress?.(total, total)
  return E.right(p)
}

/** The writer of a build's store. */
const writerFor = (req: BuildRequest, partial: string, store: StoreKind, model: ModelIdentity, root: string, p: Progress | null): TE.TaskEither<CmgaError, StoreWriter> => {
  if (store === 'safetensors') return TE.right(safetensorsWriter(partial))
  const meta: LanceMeta = { format: 'cmga-index', formatVersion: 2, store: 'lance', model, root, shard: req.shard ?? null }
  return lanceWriter(partial, meta, req.runtime.config.align.embedDim, p?.shards.at(-1)?.version ?? null)
}

/**
 * Builds (or resumes building) an index at `req.out`. A folder that is missing or has
 * no image, an unreadable image under `onError: 'fail'`, or an existing `out` is an
 * error; `out` appears only once everything is written.
 */
export const buildIndex = (req: BuildRequest): TE.TaskEither<CmgaError, BuildSummary> => {
  const out = resolve(req.out)
  const partial = `${out}.partial`
  const store = req.store ?? 'safetensors'
  if (isUri(req.out)) return TE.left(cmgaError('usage', `--out ${req.out}: cmga index writes a local folder (cmga index merge writes to an object store)`))
  if (existsSync(out) && req.force !== true) return TE.left(cmgaError('usage', `--out ${req.out} already exists (use --force to replace it)`))
  if (req.images === undefined && (req.texts === undefined || req.texts.length === 0)) return TE.left(cmgaError('usage', 'nothing to index: give a folder of images, texts, or both'))
  if (req.ann !== undefined && store !== 'lance') return TE.left(cmgaError('usage', '--ann needs --store lance (a safetensors index is searched by brute force)'))
  const model = identityOf(req.runtime.identity)
  const root = req.images === undefined ? '' : resolve(req.images)
  const withTexts = req.texts !== undefined && req.texts.length > 0 && (req.shard === undefined || req.shard.index === 0)
  let owned = false // whether this build made or resumed OUT.partial (and so may clean it up)
  let writer: StoreWriter | null = null
  const images: TE.TaskEither<CmgaError, { progress: Progress; files: string[] } | null> =
    req.images === undefined
      ? TE.right(null)
      : pipe(
          () => listImages(req.images as string),
          TE.map((all) => shardFiles(all, req.shard)),
          TE.chainEitherK((files) => (files.length === 0 ? fail<string[]>('input', `shard ${(req.shard?.index ?? 0) + 1}/${req.shard?.count} of ${req.images} holds no image`) : E.right(files))),
          TE.chainEitherK((files) => E.map((p: Progress) => ((owned = true), { files, p }))(startBuild(partial, store, model, root, files, req.log ?? (() => undefined)))),
          TE.chainFirst(({ p }) => TE.map((w: StoreWriter) => void (writer = w))(writerFor(req, partial, store, model, root, p))),
          TE.chain(({ files, p }) =>
            pipe(
              embedShards(req, writer as StoreWriter, partial, root, p),
              TE.chain((done) =>
                done.shards.length === 0
                  ? TE.left(cmgaError('input', `no image in ${req.images} could be read (${done.skipped.map((s) => s.path).slice(0, 3).join(', ')}${done.skipped.length > 3 ? ', ...' : ''} skipped)`))
                  : TE.right({ progress: done, files })
              )
            )
          )
        )
  const texts = (): TE.TaskEither<CmgaError, IndexManifest['texts']> =>
    !withTexts
      ? TE.right(null)
      : pipe(
          encodeScoredTexts(req.runtime, req.texts as readonly string[]),
          TE.chain((f) => (writer as StoreWriter).writeTexts(req.texts as readonly string[], f)),
          TE.map((file) => ({ file, texts: [...(req.texts as readonly string[])] }))
        )
  return pipe(
    images,
    TE.chainFirstEitherK(() =>
      existsSync(partial) ? E.right(undefined) : E.tryCatch(() => ((owned = true), mkdirSync(partial)), (e) => cmgaError('io', `cannot create ${partial}: ${(e as Error).message}`))
    ),
    TE.chainFirst(() => (writer !== null ? TE.right(undefined) : TE.map((w: StoreWriter) => void (writer = w))(writerFor(req, partial, store, model, root, null)))),
    TE.bindTo('images'),
    TE.bind('texts', texts),
    TE.chainFirst(({ images: im }) => (im === null || req.ann === undefined ? TE.right(undefined) : (writer as StoreWriter).finish(req.ann))),
    TE.chainFirstEitherK(({ images: im, texts: tx }) => {
      if (store !== 'safetensors') return E.right(undefined)
      const m: IndexManifest = { format: 'cmga-index', formatVersion: 1, model, images: im === null ? null : { root, files: im.files, shards: im.progress.shards, skipped: im.progress.skipped }, texts: tx, ...(req.shard === undefined ? {} : { shard: req.shard }) }
      return writeTextAtomic(join(partial, 'index.json'), json(m))
    }),
    TE.chainFirst(() => async () => E.right(await writer?.close())),
    TE.chainFirstEitherK(() =>
      E.tryCatch(() => {
        rmSync(join(partial, 'progress.json'), { force: true })
        const old = existsSync(out) ? `${partial}.old` : null // --force: the old index goes only once the new one is complete
        if (old !== null) renameSync(out, old)
        renameSync(partial, out)
        if (old !== null) rmSync(old, { recursive: true, force: true })
      }, (e) => cmgaError('io', `cannot move ${partial} to ${out}: ${(e as Error).message}`))
    ),
    TE.map(({ images: im, texts: tx }): BuildSummary => ({
      store,
      images: im === null ? null : { count: embeddedCount(im.progress), skipped: im.progress.skipped },
      texts: tx === null ? null : tx.texts.length
    })),
    TE.orElse((e) => async () => {
      await writer?.close()
      // Nothing embedded: leave nothing behind. Otherwise keep the shards to resume from.
      if (!owned) return E.left(e)
      if (embeddedSoFar(partial) === 0) {
        rmSync(partial, { recursive: true, force: true })
        return E.left(e)
      }
      return E.left(cmgaError(e.kind, `${e.message} (the images embedded so far are kept in ${partial}; the same command resumes)`))
    })
  )
}

/** Images embedded in a partial build, by its progress file (0 when there is none). */
const embeddedSoFar = (partial: string): number => {
  const p = E.chain((j: unknown) => decode(ProgressCodec, j, partial, 'progress'))(readJson(join(partial, 'progress.json'), 'progress'))
  return E.isRight(p) ? embeddedCount(p.right) : 0
}

// -------------------------------------------------------------------------------------
// opening
// -------------------------------------------------------------------------------------

/** A store opened without a model to check it against (merging, converting). */
export interface OpenedStore {
  readonly model: ModelIdentity
  readonly images: ImageStore | null
  readonly texts: StoredTexts | null
}

/** Opens the index at `path` (a folder of either store, or a Lance URI), whatever model built it. */
export const openStore = (path: string): TE.TaskEither<CmgaError, OpenedStore> => {
  const lance = (): TE.TaskEither<CmgaError, OpenedStore> =>
    pipe(
      connect(path),
      TE.chain((db) =>
        pipe(
          hasImagesTable(db),
          TE.chain((has) => (has ? openLanceStore(db, path) : TE.left(cmgaError('format', `${path} is not a cmga index (no index.json, no Lance table "images")`)))),
          TE.bindTo('images'),
          TE.bind('texts', () => readLanceTexts(db, path)),
          TE.map(({ images, texts }) => ({ model: images.model, images: images.size === 0 ? null : images, texts }))
        )
      )
    )
  if (isUri(path)) return lance()
  if (!existsSync(path) || !statSync(path).isDirectory()) {
    const partial = existsSync(`${resolve(path)}.partial`) ? ` (${path}.partial is an unfinished build: rerun cmga index to finish it)` : ''
    return TE.left(cmgaError('io', `index ${path}: no such index folder${partial}`))
  }
  const file = join(path, 'index.json')
  if (!existsSync(file)) return lance()
  return TE.fromEither(
    pipe(
      readJson(file, 'index'),
      E.chain((j) => decode(IndexCodec, j, file, 'a cmga index')),
      E.chain((m) =>
        pipe(
          E.Do,
          E.bind('images', () => openSafetensorsStore(path, m)),
          E.bind('texts', () => readSafetensorsTexts(path, m)),
          E.map(({ images, texts }) => ({ model: m.model, images, texts }))
        )
      )
    )
  )
}

/** Opens an index built by the runtime's model; an index built by another model, or one part of a sharded build, is an error. */
export const openIndex = (path: string, runtime: Runtime): TE.TaskEither<CmgaError, Gallery> =>
  pipe(
    openStore(path),
    TE.chainFirst((s) => {
      const problem =
        s.model.fingerprint !== runtime.identity.fingerprint
          ? cmgaError('input', `index ${path} was built by another model: ${describeModel(s.model)}, not ${describeModel(runtime.identity)}; rebuild it with cmga index --model ${runtime.identity.dir}`)
          : s.images?.shard != null
            ? cmgaError('input', `index ${path} is part ${s.images.shard.index + 1}/${s.images.shard.count} of a gallery built with --shard; join the parts with cmga index merge`)
            : null
      return problem === null ? TE.right(undefined) : TE.left((void s.images?.close(), problem))
    }),
    TE.map((s) => ({ path, model: s.model, images: s.images, texts: s.texts, close: async () => s.images?.close() }))
  )
