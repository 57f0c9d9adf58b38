/**
 * The Lance store (`cmga index --store lance`): a LanceDB database (a folder, or an
 * object-store URI such as s3://bucket/path) with a table `images`: per image its row
 * `id` (its position in the gallery), file `name`, `global` feature (a vector) and
 * `tokens` (a multivector: one vector per visual token, which LanceDB can search by
 * late interaction), the model identity in the table's `cmga` metadata; and, when texts
 * were indexed, a table `texts` (`text`, `global`, `tokens`, `mask`).
 *
 * Stage 1 asks LanceDB for candidates by the `dot` distance (1 - the global score of
 * L2-normalised features): a flat search (exact), or through an IVF-PQ index on
 * `global` (`--ann`, approximate, refined on the stored vectors); the rows it returns
 * are then re-scored here (store.ts `bestRows`). An exact search asks for a margin of
 * extra rows, so that LanceDB's float32 arithmetic cannot push a row out of the top n
 * that ours would keep: the order is the safetensors store's.
 * @since 0.2.0
 */
import * as lancedb from '@lancedb/lancedb'
import { createRequire } from 'node:module'
import type * as A from 'apache-arrow'
import * as E from 'fp-ts/lib/Either.js'
import * as TE from 'fp-ts/lib/TaskEither.js'
import { pipe } from 'fp-ts/lib/function.js'
import type { CmgaError } from '../../../compiler/errors.js'
import { cmgaError, fail } from '../../../compiler/errors.js'
import type { ImageFeatures } from '../../cmga/features.js'
import type { ScoredTexts } from '../../cmga/runtime.js'
import type { LanceMeta } from './manifest.js'
import { LanceMetaCodec, decode } from './manifest.js'
import type { AnnParams, ImageStore, StoredTexts, StoreWriter } from './store.js'
import { bestRows } from './store.js'

// -------------------------------------------------------------------------------------
// model
// -------------------------------------------------------------------------------------

/** The table of images. */
export const IMAGES = 'images'

/** The table of texts. */
export const TEXTS = 'texts'

/** Fewest rows an IVF-PQ index trains on (256 PQ centroids per sub-vector). */
export const MIN_ANN_ROWS = 256

// -------------------------------------------------------------------------------------
// arrow
// -------------------------------------------------------------------------------------

/**
 * apache-arrow as LanceDB loads it (CommonJS). Under an ES-module import, Node loads a
 * second copy, whose tables LanceDB rebuilds with its own and then finds "Table and
 * inner RecordBatch schemas must be equivalent".
 */
const arrow = createRequire(import.meta.url)('apache-arrow') as typeof A

const f32 = new arrow.Float32()
const vectorType = (dim: number): A.FixedSizeList<A.Float32> => new arrow.FixedSizeList(dim, new arrow.Field('item', f32, true))
const multiType = (dim: number): A.List<A.FixedSizeList<A.Float32>> => new arrow.List(new arrow.Field('item', vectorType(dim), true))

/** The `images` table's schema for embed dim `dim`. */
export const imagesSchema = (dim: number, meta: LanceMeta): A.Schema =>
  new arrow.Schema(
    [
      new arrow.Field('id', new arrow.Int32(), false),
      new arrow.Field('name', new arrow.Utf8(), false),
      new arrow.Field('global', vectorType(dim), false),
      new arrow.Field('tokens', multiType(dim), false)
    ],
    new Map([['cmga', JSON.stringify(meta)]])
  )

const textsSchema = (dim: number, meta: LanceMeta): A.Schema =>
  new arrow.Schema(
    [
      new arrow.Field('text', new arrow.Utf8(), false),
      new arrow.Field('global', vectorType(dim), false),
      new arrow.Field('tokens', multiType(dim), false),
      new arrow.Field('mask', new arrow.List(new arrow.Field('item', new arrow.Int64(), true)), false)
    ],
    new Map([['cmga', JSON.stringify(meta)]])
  )

const vectors = (data: Float32Array, dim: number): A.Data<A.FixedSizeList<A.Float32>> =>
  arrow.makeData({ type: vectorType(dim), length: data.length / dim, nullCount: 0, child: arrow.makeData({ type: f32, length: data.length, data }) })

/** `n` lists of `per` items each over `child`. */
const lists = <T extends A.DataType>(type: A.List<T>, n: number, per: number, child: A.Data<T>): A.Data<A.List<T>> =>
  arrow.makeData({ type, length: n, nullCount: 0, valueOffsets: Int32Array.from({ length: n + 1 }, (_, i) => i * per), child })

/** A Utf8 column of `xs` (one chunk, whatever its size). */
const utf8 = (xs: readonly string[]): A.Data<A.Utf8> => {
  const bytes = xs.map((x) => new TextEncoder().encode(x))
  const valueOffsets = new Int32Array(xs.length + 1)
  bytes.forEach((b, i) => (valueOffsets[i + 1] = valueOffsets[i] + b.length))
  const data = new Uint8Array(valueOffsets[xs.length])
  bytes.forEach((b, i) => data.set(b, valueOffsets[i]))
  return arrow.makeData({ type: new arrow.Utf8(), length: xs.length, nullCount: 0, valueOffsets, data })
}

const batchTable = (schema: A.Schema, n: number, children: A.Data[]): A.Table =>
  new arrow.Table(schema, new arrow.RecordBatch(schema, arrow.makeData({ type: new arrow.Struct(schema.fields), length: n, nullCount: 0, children })))

/** The rows of a FixedSizeList<float32> column, stacked. */
const vectorRows = (v: A.Vector | null, dim: number): Float32Array => {
  const chunks = (v?.data ?? []).map((d) => (d.children[0].values as Float32Array).subarray(0, d.length * dim))
  const out = new Float32Array(chunks.reduce((n, c) => n + c.length, 0))
  chunks.reduce((at, c) => (out.set(c, at), at + c.length), 0)
  return out
}

/** The rows of a List<FixedSizeList<float32>> column, each `T` vectors, stacked (a row with another count is an error). */
const multiRows = (v: A.Vector | null, T: number, dim: number): E.Either<CmgaError, Float32Array> => {
  const out = new Float32Array((v?.length ?? 0) * T * dim)
  let r = 0
  for (const d of v?.data ?? []) {
    const offsets = d.valueOffsets
    const values = d.children[0].children[0].values as Float32Array
    for (let i = 0; i < d.length; i++, r++) {
      if (offsets[i + 1] - offsets[i] !== T) return fail('format', `row ${r} holds ${offsets[i + 1] - offsets[i]} token vectors, not ${T}`)
      out.set(values.subarray(offsets[i] * dim, offsets[i + 1] * dim), r * T * dim)
    }
  }
  return E.right(out)
}

const strings = (v: A.Vector | null): string[] => (v === null ? [] : (v.toArray() as string[]))

const embedDimOf = (schema: A.Schema): number => (schema.fields.find((f) => f.name === 'global')?.type as A.FixedSizeList).listSize

const tryTask = <A>(what: string, f: () => Promise<A>): TE.TaskEither<CmgaError, A> =>
  TE.tryCatch(f, (e) => cmgaError('io', `${what}: ${(e as Error).message.split('\n')[0]}`))

// -------------------------------------------------------------------------------------
// opening
// -------------------------------------------------------------------------------------

/** Whether `location` names an object store rather than a local folder. */
export const isUri = (location: string): boolean => /^[a-z][a-z0-9+.-]*:\/\//i.test(location)

/** Connects to the database at `location` (a folder or a URI). */
export const connect = (location: string): TE.TaskEither<CmgaError, lancedb.Connection> => tryTask(`Lance dataset ${location}`, () => lancedb.connect(location))

/** The `cmga` metadata of a table. */
const metaOf = async (t: lancedb.Table, where: string): Promise<E.Either<CmgaError, LanceMeta>> => {
  const raw = (await t.schema()).metadata.get('cmga')
  if (raw === undefined) return fail('format', `${where}: a Lance table without cmga metadata (not written by cmga index)`)
  try {
    return decode(LanceMetaCodec, JSON.parse(raw), where, 'a cmga index table')
  } catch (e) {
    return fail('format', `${where}: cmga metadata is not JSON (${(e as Error).message})`)
  }
}

/** Whether the database at `location` has a cmga images table. */
export const hasImagesTable = (db: lancedb.Connection): TE.TaskEither<CmgaError, boolean> => tryTask('Lance dataset', async () => (await db.tableNames()).includes(IMAGES))

/** Opens the images of a Lance dataset. */
export const openLanceStore = (db: lancedb.Connection, location: string): TE.TaskEither<CmgaError, ImageStore> =>
  pipe(
    tryTask(`Lance dataset ${location}`, () => db.openTable(IMAGES)),
    TE.bindTo('table'),
    TE.bind('meta', ({ table }) => () => metaOf(table, `${location}/${IMAGES}`)),
    TE.bind('info', ({ table }) =>
      tryTask(`Lance dataset ${location}`, async () => ({
        size: await table.countRows(),
        dim: embedDimOf(await table.schema()),
        ann: (await table.listIndices()).some((i) => i.columns.includes('global'))
      }))
    ),
    TE.map(({ table, meta, info }): ImageStore => lanceStore(table, location, meta, info.size, info.dim, info.ann))
  )

const lanceStore = (table: lancedb.Table, location: string, meta: LanceMeta, size: number, dim: number, hasAnn: boolean): ImageStore => {
  const where = `Lance dataset ${location}`
  let T: number | null = null // tokens per image, read from the first row taken
  return {
    kind: 'lance',
    location,
    model: meta.model,
    root: meta.root,
    size,
    hasAnn,
    shard: meta.shard,
    candidates: (query, n, search) => {
      if (search.kind === 'ann' && !hasAnn) return TE.left(cmgaError('usage', `${where} has no ANN index (build one with cmga index --ann, or search it exactly)`))
      const ask = search.kind === 'exact' ? Math.min(size, n + Math.max(16, Math.ceil(n / 4))) : n
      return tryTask(where, async () => {
        const q = table.vectorSearch(query).column('global').distanceType('dot').select(['id', 'global', '_distance']).limit(ask)
        const r = await (search.kind === 'exact' ? q.bypassVectorIndex() : q.nprobes(search.nprobes).refineFactor(search.refineFactor)).toArrow()
        const ids = Array.from(r.getChild('id')?.toArray() ?? [], Number)
        return bestRows(query, ids, vectorRows(r.getChild('global'), dim), n)
      })
    },
    take: (rows) =>
      rows.length === 0
        ? TE.right({ names: [], features: { global: { dtype: 'float32', shape: [0, dim], data: new Float32Array(0) }, tokens: { dtype: 'float32', shape: [0, T ?? 0, dim], data: new Float32Array(0) } } })
        : pipe(
        tryTask(where, () => table.takeOffsets([...rows]).select(['id', 'name', 'global', 'tokens']).toArrow()),
        TE.chainEitherK((r) => {
          // takeOffsets returns rows in storage order: put them in the order asked.
          const ids = Array.from(r.getChild('id')?.toArray() ?? [], Number)
          const at = new Map(ids.map((id, k) => [id, k]))
          const missing = rows.find((x) => !at.has(x))
          if (missing !== undefined) return fail<never>('format', `${where}: no row ${missing} (the id column does not match row positions)`)
          const tokensCol = r.getChild('tokens')
          const first = tokensCol?.data[0]
          T ??= first === undefined || first.length === 0 ? 0 : first.valueOffsets[1] - first.valueOffsets[0]
          const Tn = T
          return pipe(
            multiRows(tokensCol, Tn, dim),
            E.mapLeft((e) => cmgaError(e.kind, `${where}: ${e.message}`)),
            E.map((tokens): { names: string[]; features: ImageFeatures } => {
              const [names, global] = [strings(r.getChild('name')), vectorRows(r.getChild('global'), dim)]
              const g = new Float32Array(rows.length * dim)
              const tk = new Float32Array(rows.length * Tn * dim)
              rows.forEach((x, k) => {
                const s = at.get(x) as number
                g.set(global.subarray(s * dim, (s + 1) * dim), k * dim)
                tk.set(tokens.subarray(s * Tn * dim, (s + 1) * Tn * dim), k * Tn * dim)
              })
              return {
                names: rows.map((x) => names[at.get(x) as number]),
                features: { global: { dtype: 'float32', shape: [rows.length, dim], data: g }, tokens: { dtype: 'float32', shape: [rows.length, Tn, dim], data: tk } }
              }
            })
          )
        })
      ),
    names: () => tryTask(where, async () => strings((await table.query().select(['name']).toArrow()).getChild('name'))),
    close: async () => (table.isOpen() ? table.close() : undefined)
  }
}

/** The texts of a Lance dataset, or null when it has none. */
export const readLanceTexts = (db: lancedb.Connection, location: string): TE.TaskEither<CmgaError, StoredTexts | null> =>
  pipe(
    tryTask(`Lance dataset ${location}`, async () => ((await db.tableNames()).includes(TEXTS) ? (await db.openTable(TEXTS)).query().toArrow() : null)),
    TE.chainEitherK((r) => {
      if (r === null) return E.right(null)
      const E_ = embedDimOf(r.schema)
      const N = r.numRows
      const mask = Array.from({ length: N }, (_, i) => r.getChild('mask')?.get(i)?.toArray() as BigInt64Array)
      const L = mask[0]?.length ?? 1
      return E.map((tokens: Float32Array): StoredTexts => ({
        texts: strings(r.getChild('text')),
        features: {
          global: { dtype: 'float32', shape: [N, E_], data: vectorRows(r.getChild('global'), E_) },
          tokens: { dtype: 'float32', shape: [N, L - 1, E_], data: tokens },
          mask: { dtype: 'int64', shape: [N, L], data: BigInt64Array.from(mask.flatMap((m) => [...m])) }
        }
      }))(multiRows(r.getChild('tokens'), L - 1, E_))
    })
  )

// -------------------------------------------------------------------------------------
// writing
// -------------------------------------------------------------------------------------

/** Rows of the images table: ids from `firstId`. */
const imageRows = (schema: A.Schema, firstId: number, names: readonly string[], f: ImageFeatures): A.Table => {
  const [n, T, dim] = f.tokens.shape
  return batchTable(schema, n, [
    arrow.makeData({ type: new arrow.Int32(), length: n, nullCount: 0, data: Int32Array.from({ length: n }, (_, i) => firstId + i) }),
    utf8(names),
    vectors(f.global.data, dim),
    lists(multiType(dim), n, T, vectors(f.tokens.data, dim))
  ])
}

const textRows = (schema: A.Schema, texts: readonly string[], f: ScoredTexts): A.Table => {
  const [n, L1, dim] = f.tokens.shape
  const i64 = new arrow.Int64()
  return batchTable(schema, n, [
    utf8(texts),
    vectors(f.global.data, dim),
    lists(multiType(dim), n, L1, vectors(f.tokens.data, dim)),
    lists(new arrow.List(new arrow.Field('item', i64, true)), n, L1 + 1, arrow.makeData({ type: i64, length: f.mask.data.length, nullCount: 0, data: f.mask.data }))
  ])
}

/** Builds the IVF-PQ index over `global` (dot distance). */
export const buildAnn = (table: lancedb.Table, rows: number, dim: number, p: AnnParams): TE.TaskEither<CmgaError, void> => {
  if (rows < MIN_ANN_ROWS) return TE.left(cmgaError('input', `--ann needs at least ${MIN_ANN_ROWS} images (${rows} here; an exact search of so few is fast)`))
  const numPartitions = p.partitions ?? Math.max(1, Math.round(Math.sqrt(rows)))
  const numSubVectors = p.subVectors ?? Math.max(1, dim / 8)
  if (dim % numSubVectors !== 0) return TE.left(cmgaError('usage', `--ann-sub-vectors ${numSubVectors} must divide the embed dim ${dim}`))
  if (numPartitions > rows) return TE.left(cmgaError('usage', `--ann-partitions ${numPartitions} exceeds the ${rows} images`))
  return tryTask('building the ANN index', () => table.createIndex('global', { config: lancedb.Index.ivfPq({ numPartitions, numSubVectors, distanceType: 'dot' }), replace: true }))
}

/**
 * A writer of the Lance dataset at `location` (created, or reopened and rolled back to
 * `version`, the last batch a build's progress recorded).
 */
export const lanceWriter = (location: string, meta: LanceMeta, dim: number, version: number | null): TE.TaskEither<CmgaError, StoreWriter & { readonly table: lancedb.Table }> =>
  pipe(
    connect(location),
    TE.chain((db) =>
      tryTask(`Lance dataset ${location}`, async () => {
        const exists = (await db.tableNames()).includes(IMAGES)
        const table = exists ? await db.openTable(IMAGES) : await db.createEmptyTable(IMAGES, imagesSchema(dim, meta))
        if (exists && version === null) {
          await db.dropTable(IMAGES)
          return { db, table: await db.createEmptyTable(IMAGES, imagesSchema(dim, meta)) }
        }
        if (version !== null && (await table.version()) !== version) {
          await table.checkout(version)
          await table.restore()
        }
        return { db, table }
      })
    ),
    TE.bind('count', ({ table }) => tryTask(`Lance dataset ${location}`, () => table.countRows())),
    TE.map(({ db, table, count }) => {
      const schema = imagesSchema(dim, meta)
      let rows = count
      return {
        table,
        append: (_k, first, names, f) =>
          tryTask(`Lance dataset ${location}`, async () => {
            await table.add(imageRows(schema, rows, names, f))
            rows += names.length
            return { file: IMAGES, first, count: names.length, version: await table.version() }
          }),
        writeTexts: (texts, f) =>
          tryTask(`Lance dataset ${location}`, async () => {
            if ((await db.tableNames()).includes(TEXTS)) await db.dropTable(TEXTS)
            const t = await db.createEmptyTable(TEXTS, textsSchema(f.global.shape[1], meta))
            await t.add(textRows(await t.schema(), texts, f))
            t.close()
            return TEXTS
          }),
        finish: (ann) => (ann === null ? TE.right(undefined) : buildAnn(table, rows, dim, ann)),
        close: async () => (table.isOpen() ? table.close() : undefined)
      }
    })
  )
