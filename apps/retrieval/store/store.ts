/**
 * Where a gallery's image features live, behind one interface: today's safetensors
 * shards (`safetensors.ts`, the default) or a Lance dataset (`lance.ts`). Retrieval,
 * evaluation and merging go through `ImageStore`; building goes through `StoreWriter`.
 *
 * A row is an image's position in the gallery (0 to size - 1, in the order images were
 * indexed: their sorted file names, less the ones skipped). The global score is the dot
 * product of L2-normalised features; `candidates` always recomputes it here from the
 * stored vectors, so a store's own search only chooses which rows are looked at.
 * @since 0.2.0
 */
import type * as TE from 'fp-ts/lib/TaskEither.js'
import type { CmgaError } from '../../../compiler/errors.js'
import type { ModelIdentity } from '../../../runtime/model/fingerprint.js'
import type { ImageFeatures } from '../../cmga/features.js'
import type { ScoredTexts } from '../../cmga/runtime.js'
import { topIndices } from '../../cmga/rank.js'

// -------------------------------------------------------------------------------------
// model
// -------------------------------------------------------------------------------------

/** The stores `cmga index --store` writes. */
export const storeKinds = ['safetensors', 'lance'] as const

/** A kind of store. */
export type StoreKind = (typeof storeKinds)[number]

/** Parameters of an IVF-PQ index over the global features (`cmga index --ann`). */
export interface AnnParams {
  /** IVF partitions (default: about sqrt(rows)). */
  readonly partitions?: number
  /** PQ sub-vectors (default: embed dim / 8). */
  readonly subVectors?: number
}

/** How stage 1 finds its candidates by global score. */
export type Search =
  | { readonly kind: 'exact' }
  /** Approximate, through the store's ANN index: partitions probed, and how many times `n` rows are re-scored exactly. */
  | { readonly kind: 'ann'; readonly nprobes: number; readonly refineFactor: number }

/** Query-time ANN defaults (measured in bench/store-results.md). */
export const defaultAnnSearch: Search = { kind: 'ann', nprobes: 40, refineFactor: 50 }

/** A shard of a gallery built on several machines: image k of the sorted list goes to shard k mod n. */
export interface ShardOf {
  /** 0-based. */
  readonly index: number
  readonly count: number
}

/** Rows' features and names, in the order asked. */
export interface Taken {
  readonly names: readonly string[]
  readonly features: ImageFeatures
}

/** An opened store of image features. */
export interface ImageStore {
  readonly kind: StoreKind
  /** Where it is (a folder or a URI). */
  readonly location: string
  readonly model: ModelIdentity
  /** The folder the image names are relative to. */
  readonly root: string
  /** Rows (images). */
  readonly size: number
  /** Whether it has an ANN index over the global features. */
  readonly hasAnn: boolean
  /** Which part of a gallery built on several machines it is, if one. */
  readonly shard: ShardOf | null
  /** The `n` best rows by global score for a query's global feature, best first, ties to the lower row. */
  readonly candidates: (query: Float32Array, n: number, search: Search) => TE.TaskEither<CmgaError, readonly number[]>
  /** Rows' features and names. */
  readonly take: (rows: readonly number[]) => TE.TaskEither<CmgaError, Taken>
  /** Every row's name, in row order. */
  readonly names: () => TE.TaskEither<CmgaError, readonly string[]>
  /** Releases what it holds. */
  readonly close: () => Promise<void>
}

/** Texts stored with a gallery, for image-to-text retrieval. */
export interface StoredTexts {
  readonly texts: readonly string[]
  readonly features: ScoredTexts
}

/** One batch of images written, as a build's progress file records it. */
export interface ShardRecord {
  readonly file: string
  /** Position in the build's file list of the batch's first image. */
  readonly first: number
  readonly count: number
  /** The store's version after the batch (Lance), to roll an interrupted build back to. */
  readonly version?: number
}

/** Writes a store being built (in `OUT.partial`). */
export interface StoreWriter {
  /** Appends the `k`-th batch: images `names` (relative to the root) with their features. */
  readonly append: (k: number, first: number, names: readonly string[], f: ImageFeatures) => TE.TaskEither<CmgaError, ShardRecord>
  /** Writes the texts. */
  readonly writeTexts: (texts: readonly string[], f: ScoredTexts) => TE.TaskEither<CmgaError, string>
  /** Called once every image is in; builds the ANN index when asked. */
  readonly finish: (ann: AnnParams | null) => TE.TaskEither<CmgaError, void>
  readonly close: () => Promise<void>
}

// -------------------------------------------------------------------------------------
// scoring
// -------------------------------------------------------------------------------------

/**
 * The `n` best of `rows` by the global score recomputed from their vectors (`global`,
 * [rows.length, E] row-major), best first, ties to the lower row: the same arithmetic
 * as brute force over the whole gallery, so an exact store search returns today's order.
 */
export const bestRows = (query: Float32Array, rows: readonly number[], global: Float32Array, n: number): number[] => {
  const E = query.length
  const scores = rows.map((_, r) => {
    let s = 0
    for (let e = 0; e < E; e++) s += global[r * E + e] * query[e]
    return s
  })
  const order = rows.map((_, r) => r).sort((a, b) => scores[b] - scores[a] || rows[a] - rows[b])
  return order.slice(0, n).map((r) => rows[r])
}

/** The `n` best rows of a whole gallery held in memory ([N, E]), by brute force. */
export const bruteForce = (query: Float32Array, global: Float32Array, n: number): number[] => {
  const E = query.length
  const N = global.length / E
  const scores = new Float64Array(N)
  for (let i = 0; i < N; i++) {
    let s = 0
    for (let e = 0; e < E; e++) s += global[i * E + e] * query[e]
    scores[i] = s
  }
  return topIndices(scores, n)
}
