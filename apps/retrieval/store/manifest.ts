/**
 * What a gallery index says about itself: `index.json` of a safetensors index (format
 * 1, unchanged), the `cmga` metadata of a Lance dataset's tables, and `progress.json`
 * of a build in progress (either store).
 * @since 0.2.0
 */
import * as E from 'fp-ts/lib/Either.js'
import * as t from 'io-ts'
import type { CmgaError } from '../../../compiler/errors.js'
import { cmgaError } from '../../../compiler/errors.js'
import { failedPaths } from '../../../runtime/model/manifest.js'
import type { ModelIdentity } from '../../../runtime/model/fingerprint.js'

// -------------------------------------------------------------------------------------
// codecs
// -------------------------------------------------------------------------------------

/** The model that built an index. */
export const Identity = t.type({ fingerprint: t.string, dir: t.string, weights: t.string, quantize: t.string })
const Shard = t.intersection([t.type({ file: t.string, first: t.number, count: t.number }), t.partial({ version: t.number })])
const Skipped = t.type({ path: t.string, reason: t.string })
const ImagesPart = t.type({ root: t.string, files: t.array(t.string), shards: t.array(Shard), skipped: t.array(Skipped) })
const ShardOfCodec = t.type({ index: t.number, count: t.number })
const TextsPart = t.type({ file: t.string, texts: t.array(t.string) })

/** `index.json` of a safetensors index (`shard` only in a part built with --shard; readers that predate it ignore it). */
export const IndexCodec = t.intersection([
  t.type({
    format: t.literal('cmga-index'),
    formatVersion: t.literal(1),
    model: Identity,
    images: t.union([ImagesPart, t.null]),
    texts: t.union([TextsPart, t.null])
  }),
  t.partial({ shard: ShardOfCodec })
])

/** `index.json`, decoded. */
export type IndexManifest = t.TypeOf<typeof IndexCodec>

/** The `cmga` metadata of a Lance dataset's tables. */
export const LanceMetaCodec = t.type({
  format: t.literal('cmga-index'),
  formatVersion: t.literal(2),
  store: t.literal('lance'),
  model: Identity,
  root: t.string,
  shard: t.union([ShardOfCodec, t.null])
})

/** A Lance dataset's `cmga` metadata, decoded. */
export type LanceMeta = t.TypeOf<typeof LanceMetaCodec>

/** `progress.json` of a build in progress. */
export const ProgressCodec = t.intersection([
  t.type({ model: Identity, root: t.string, files: t.array(t.string), shards: t.array(Shard), skipped: t.array(Skipped) }),
  t.partial({ store: t.string })
])

/** A build's progress. */
export type Progress = t.TypeOf<typeof ProgressCodec>

/** An image left out of an index, and why. */
export type SkippedImage = t.TypeOf<typeof Skipped>

// -------------------------------------------------------------------------------------
// helpers
// -------------------------------------------------------------------------------------

/** Decodes `json` read from `path`, or says which fields are bad. */
export const decode = <A>(codec: t.Decoder<unknown, A>, json: unknown, path: string, what: string): E.Either<CmgaError, A> =>
  E.mapLeft((errs: t.Errors): CmgaError => cmgaError('format', `${path}: not ${what} (bad or missing: ${failedPaths(errs).slice(0, 5).join(', ')})`))(codec.decode(json))

/** The four fields of a model identity an index records. */
export const identityOf = (m: ModelIdentity): ModelIdentity => ({ fingerprint: m.fingerprint, dir: m.dir, weights: m.weights, quantize: m.quantize })

/** Images embedded so far by a progress record. */
export const embeddedCount = (p: Pick<Progress, 'shards'>): number => p.shards.reduce((n, s) => n + s.count, 0)
