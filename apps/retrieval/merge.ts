/**
 * Joins the parts of a gallery built on several machines (`cmga index --shard I/N`)
 * into one Lance dataset, at a folder or an object-store URI; with one part, converts
 * an index of either store to a Lance dataset. The parts must come from one model,
 * share no image, and (when sharded) be every part of one split; rows are written in
 * the sorted order of the images' names, the order one machine would have indexed
 * them in, so the merged gallery equals a one-machine build row for row.
 * @since 0.2.0
 */
import { existsSync, renameSync, rmSync } from 'node:fs'
import { resolve } from 'node:path'
import * as E from 'fp-ts/lib/Either.js'
import * as TE from 'fp-ts/lib/TaskEither.js'
import { pipe } from 'fp-ts/lib/function.js'
import type { CmgaError } from '../../compiler/errors.js'
import { cmgaError } from '../../compiler/errors.js'
import { describeModel } from '../../runtime/model/fingerprint.js'
import type { OpenedStore } from './gallery.js'
import { openStore } from './gallery.js'
import type { LanceMeta } from './store/manifest.js'
import { identityOf } from './store/manifest.js'
import type { AnnParams, ImageStore, StoreWriter, Taken } from './store/store.js'
import { IMAGES, connect, isUri, lanceWriter } from './store/lance.js'

// -------------------------------------------------------------------------------------
// model
// -------------------------------------------------------------------------------------

/** What to merge. */
export interface MergeRequest {
  /** The parts: index folders (either store) or Lance URIs. */
  readonly parts: readonly string[]
  /** The dataset to write: a folder or a URI. */
  readonly out: string
  /** The folder the images' names are relative to (default: the parts', which must agree). */
  readonly root?: string
  readonly ann?: AnnParams
  /** Replace an existing `out`. */
  readonly force?: boolean
  /** Rows copied per batch (default 256). */
  readonly batch?: number
  readonly onProgress?: (done: number, total: number) => void
}

/** What was merged. */
export interface MergeSummary {
  readonly images: number
  readonly texts: number
  readonly parts: number
}

// -------------------------------------------------------------------------------------
// checks
// -------------------------------------------------------------------------------------

interface Part {
  readonly path: string
  readonly opened: OpenedStore
  readonly images: ImageStore
  readonly names: readonly string[]
}

/** Why the parts cannot be merged, or null. */
export const mergeProblem = (parts: readonly Part[], root: string | undefined): string | null => {
  const [first] = parts
  const other = parts.find((p) => p.opened.model.fingerprint !== first.opened.model.fingerprint)
  if (other !== undefined) return `${other.path} was built by another model than ${first.path}: ${describeModel(other.opened.model)}, not ${describeModel(first.opened.model)}`
  const sharded = parts.filter((p) => p.images.shard !== null)
  if (sharded.length > 0) {
    const n = sharded[0].images.shard?.count as number
    if (sharded.length !== parts.length || sharded.some((p) => p.images.shard?.count !== n)) return `the parts are not all parts of one --shard I/${n} split`
    const have = new Set(sharded.map((p) => p.images.shard?.index))
    if (have.size !== parts.length) return 'two parts are the same --shard part'
    const missing = Array.from({ length: n }, (_, i) => i).filter((i) => !have.has(i))
    if (missing.length > 0) return `parts ${missing.map((i) => `${i + 1}/${n}`).join(', ')} are missing`
  }
  if (root === undefined && parts.some((p) => p.images.root !== first.images.root)) return `the parts index images under different folders (${first.images.root}, ${parts.find((p) => p.images.root !== first.images.root)?.images.root}); give --root`
  const seen = new Map<string, string>()
  for (const p of parts) {
    for (const n of p.names) {
      const there = seen.get(n)
      if (there !== undefined) return `image ${n} is in both ${there} and ${p.path} (parts must not overlap)`
      seen.set(n, p.path)
    }
  }
  return null
}

// -------------------------------------------------------------------------------------
// merging
// -------------------------------------------------------------------------------------

const openParts = (paths: readonly string[]): TE.TaskEither<CmgaError, Part[]> =>
  TE.map((ps: readonly Part[]) => [...ps])(
    TE.traverseSeqArray((path: string) =>
      pipe(
        openStore(path),
        TE.chain((opened) => (opened.images === null ? TE.left(cmgaError('input', `${path} holds no images`)) : TE.right({ opened, images: opened.images }))),
        TE.chain(({ opened, images }) => TE.map((names: readonly string[]): Part => ({ path, opened, images, names }))(images.names()))
      )
    )(paths)
  )

/** Copies every part's rows into `w` in sorted name order. */
const copyRows = (parts: readonly Part[], w: StoreWriter, batch: number, onProgress?: (done: number, total: number) => void): TE.TaskEither<CmgaError, number> => async () => {
  const all = parts.flatMap((p, k) => p.names.map((name, row) => ({ name, part: k, row }))).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
  for (let from = 0, k = 0; from < all.length; from += batch, k++) {
    onProgress?.(from, all.length)
    const slice = all.slice(from, from + batch)
    const pieces = await Promise.all(parts.map((p, i) => p.images.take(slice.filter((x) => x.part === i).map((x) => x.row))()))
    const bad = pieces.find(E.isLeft)
    if (bad !== undefined) return bad
    const got = pieces.map((x) => (x as E.Right<Taken>).right)
    const [dim, T] = [got.find((g) => g.names.length > 0)?.features.tokens.shape[2] as number, got.find((g) => g.names.length > 0)?.features.tokens.shape[1] as number]
    const next = new Array<number>(parts.length).fill(0)
    const global = new Float32Array(slice.length * dim)
    const tokens = new Float32Array(slice.length * T * dim)
    slice.forEach((x, r) => {
      const g = got[x.part]
      const at = next[x.part]++
      global.set(g.features.global.data.subarray(at * dim, (at + 1) * dim), r * dim)
      tokens.set(g.features.tokens.data.subarray(at * T * dim, (at + 1) * T * dim), r * T * dim)
    })
    const written = await w.append(k, from, slice.map((x) => x.name), { global: { dtype: 'float32', shape: [slice.length, dim], data: global }, tokens: { dtype: 'float32', shape: [slice.length, T, dim], data: tokens } })()
    if (E.isLeft(written)) return written
  }
  onProgress?.(all.length, all.length)
  return E.right(all.length)
}

/** Merges the parts into one Lance dataset at `req.out` (a local folder appears only once complete). */
export const mergeIndexes = (req: MergeRequest): TE.TaskEither<CmgaError, MergeSummary> => {
  const local = !isUri(req.out)
  const out = local ? resolve(req.out) : req.out
  const target = local ? `${out}.partial` : out
  if (req.parts.length === 0) return TE.left(cmgaError('usage', 'nothing to merge: give the parts'))
  if (local && existsSync(out) && req.force !== true) return TE.left(cmgaError('usage', `--out ${req.out} already exists (use --force to replace it)`))
  let parts: Part[] = []
  let writer: StoreWriter | null = null
  const closeAll = async (): Promise<void> => {
    await writer?.close()
    await Promise.all(parts.map((p) => p.images.close()))
    ;[writer, parts] = [null, []]
  }
  return pipe(
    openParts(req.parts),
    TE.chainFirst((ps) => ((parts = ps), TE.right(undefined))),
    TE.chainFirst((ps) => {
      const problem = mergeProblem(ps, req.root)
      return problem === null ? TE.right(undefined) : TE.left(cmgaError('input', `cannot merge: ${problem}`))
    }),
    TE.chainFirst(() =>
      local
        ? TE.fromEither(E.tryCatch(() => rmSync(target, { recursive: true, force: true }), (e) => cmgaError('io', `cannot clear ${target}: ${(e as Error).message}`)))
        : pipe(
            connect(target),
            TE.chain((db) => TE.tryCatch(() => db.tableNames(), (e) => cmgaError('io', `${target}: ${(e as Error).message}`))),
            TE.chain((names) => (names.includes(IMAGES) && req.force !== true ? TE.left(cmgaError('usage', `--out ${req.out} already holds a gallery (use --force to replace it)`)) : TE.right(undefined)))
          )
    ),
    TE.chain((ps) => {
      const first = ps[0]
      const meta: LanceMeta = { format: 'cmga-index', formatVersion: 2, store: 'lance', model: identityOf(first.opened.model), root: req.root === undefined ? first.images.root : resolve(req.root), shard: null }
      return pipe(
        first.images.take([0]),
        TE.chain((one) => lanceWriter(target, meta, one.features.global.shape[1], null)),
        TE.chainFirst((w) => ((writer = w), TE.right(undefined))),
        TE.bindTo('w'),
        TE.bind('images', ({ w }) => copyRows(ps, w, req.batch ?? 256, req.onProgress)),
        TE.bind('texts', ({ w }) => {
          const withTexts = ps.filter((p) => p.opened.texts !== null)
          if (withTexts.length > 1) return TE.left(cmgaError('input', `cannot merge: ${withTexts[0].path} and ${withTexts[1].path} both hold texts`))
          const t = withTexts[0]?.opened.texts
          return t == null ? TE.right(0) : TE.map(() => t.texts.length)(w.writeTexts(t.texts, t.features))
        }),
        TE.chainFirst(({ w }) => (req.ann === undefined ? TE.right(undefined) : w.finish(req.ann)))
      )
    }),
    TE.chainFirst(() => TE.fromTask(closeAll)),
    TE.chainFirstEitherK(() =>
      !local
        ? E.right(undefined)
        : E.tryCatch(() => {
            const old = existsSync(out) ? `${target}.old` : null
            if (old !== null) renameSync(out, old)
            renameSync(target, out)
            if (old !== null) rmSync(old, { recursive: true, force: true })
          }, (e) => cmgaError('io', `cannot move ${target} to ${out}: ${(e as Error).message}`))
    ),
    TE.map(({ images, texts }) => ({ images, texts, parts: req.parts.length })),
    TE.orElse((e) => async () => {
      await closeAll()
      if (local) rmSync(target, { recursive: true, force: true })
      return E.left(e)
    })
  )
}
