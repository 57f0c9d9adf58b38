/**
 * The model config of spec section 1: io-ts codecs, the spec's constraints, and the
 * derived sizes the model needs (patch count, the token-count schedule of compression).
 * @since 0.1.0
 */
import * as E from 'fp-ts/lib/Either.js'
import * as t from 'io-ts'
import { type CmgaError, fail } from '../../compiler/errors.js'

// -------------------------------------------------------------------------------------
// codecs
// -------------------------------------------------------------------------------------

const numberWhere = (name: string, ok: (n: number) => boolean): t.Type<number> => {
  const is = (u: unknown): u is number => typeof u === 'number' && Number.isFinite(u) && ok(u)
  return new t.Type<number>(name, is, (u, c) => (is(u) ? t.success(u) : t.failure(u, c)), t.identity)
}

const PosInt = numberWhere('positive integer', (n) => Number.isInteger(n) && n > 0)
const NonNegInt = numberWhere('non-negative integer', (n) => Number.isInteger(n) && n >= 0)
const PosNumber = numberWhere('positive number', (n) => n > 0)
const Rate = numberWhere('number in (0, 1]', (n) => n > 0 && n <= 1)
const Weight = numberWhere('number in [0, 1]', (n) => n >= 0 && n <= 1)

const visionProps = {
  imageSize: PosInt,
  patchSize: PosInt,
  channels: PosInt,
  width: PosInt,
  depth: PosInt,
  heads: PosInt,
  mlpDim: PosInt,
  eps: PosNumber
}
const textProps = {
  vocabSize: PosInt,
  maxPositions: PosInt,
  typeVocabSize: PosInt,
  width: PosInt,
  heads: PosInt,
  intermediate: PosInt,
  textLayers: PosInt,
  fusionLayers: PosInt,
  eps: PosNumber,
  padTokenId: NonNegInt
}
const compressionProps = { layers: t.readonlyArray(NonNegInt), keepRate: Rate, imageWeight: Weight }
const alignProps = { embedDim: PosInt }
const vqaProps = { numAnswers: PosInt }

/** Every section's fields, by section name: the source of truth for unknown-key checks. */
const sections: Readonly<Record<string, t.Props>> = {
  vision: visionProps,
  text: textProps,
  compression: compressionProps,
  align: alignProps,
  vqa: vqaProps
}

/** Codec of a whole config (types only; cross-field rules are in `violations`). */
export const CmgaConfigCodec = t.exact(
  t.intersection([
    t.type({
      vision: t.strict(visionProps, 'object'),
      text: t.strict(textProps, 'object'),
      compression: t.strict(compressionProps, 'object'),
      align: t.strict(alignProps, 'object')
    }),
    t.partial({ vqa: t.strict(vqaProps, 'object') })
  ]),
  'object'
)

// -------------------------------------------------------------------------------------
// model
// -------------------------------------------------------------------------------------

/** A decoded config that satisfies every constraint of spec section 1. */
export type CmgaConfig = t.TypeOf<typeof CmgaConfigCodec>

/** One compression step: `candidates` (M) tokens compete, `kept` (Kn) survive. */
export interface KeptCount {
  readonly layer: number
  readonly candidates: number
  readonly kept: number
  readonly tokensAfter: number
}

// -------------------------------------------------------------------------------------
// checks
// -------------------------------------------------------------------------------------

const isObject = (u: unknown): u is Record<string, unknown> =>
  typeof u === 'object' && u !== null && !Array.isArray(u)

const unknownFields = (json: unknown): ReadonlyArray<string> => {
  if (!isObject(json)) return []
  return Object.entries(json).flatMap(([section, value]) => {
    const props = sections[section]
    if (props === undefined) return [`${section}: unknown field`]
    if (!isObject(value)) return []
    return Object.keys(value)
      .filter((k) => !(k in props))
      .map((k) => `${section}.${k}: unknown field`)
  })
}

const isIntersection = (codec: t.Decoder<unknown, unknown> | undefined): boolean =>
  codec instanceof t.IntersectionType || (codec instanceof t.ExactType && isIntersection(codec.type))

const describe = (e: t.ValidationError): string => {
  const keys = e.context
    .filter((c, i) => c.key !== '' && !isIntersection(e.context[i - 1]?.type))
    .map((c) => c.key)
  const path = keys.length === 0 ? '(root)' : keys.join('.').replace(/\.(\d+)(?=\.|$)/g, '[$1]')
  const expected = e.context[e.context.length - 1].type.name
  return e.value === undefined
    ? `${path}: missing (expected ${expected})`
    : `${path}: expected ${expected}, got ${JSON.stringify(e.value)}`
}

/** Cross-field rules of spec section 1, as messages naming the fields. */
const violations = (c: CmgaConfig): ReadonlyArray<string> => {
  const { vision: v, text: x, compression: k } = c
  const rules: ReadonlyArray<readonly [boolean, string]> = [
    [v.channels === 3, `vision.channels (${v.channels}) must be 3`],
    [
      v.imageSize % v.patchSize === 0,
      `vision.imageSize (${v.imageSize}) must be divisible by vision.patchSize (${v.patchSize})`
    ],
    [v.width % v.heads === 0, `vision.width (${v.width}) must be divisible by vision.heads (${v.heads})`],
    [x.width % x.heads === 0, `text.width (${x.width}) must be divisible by text.heads (${x.heads})`],
    [v.width === x.width, `vision.width (${v.width}) must equal text.width (${x.width})`],
    [
      x.padTokenId < x.vocabSize,
      `text.padTokenId (${x.padTokenId}) must be less than text.vocabSize (${x.vocabSize})`
    ],
    ...k.layers.map((l, i): readonly [boolean, string] => [
      l < v.depth,
      `compression.layers[${i}] (${l}) must be less than vision.depth (${v.depth})`
    ]),
    ...k.layers.slice(1).map((l, i): readonly [boolean, string] => [
      l > k.layers[i],
      `compression.layers[${i + 1}] (${l}) must be greater than compression.layers[${i}] (${k.layers[i]})`
    ])
  ]
  return rules.filter(([ok]) => !ok).map(([, message]) => message)
}

// -------------------------------------------------------------------------------------
// decoding
// -------------------------------------------------------------------------------------

/**
 * Decodes and checks a config. All problems found (unknown fields, wrong types, then
 * the cross-field rules) are reported in one `config` error, joined with '; ' and
 * prefixed with `source` (e.g. `config: vision.width (30) must be divisible by ...`).
 */
export const decodeConfig = (json: unknown, source = 'config'): E.Either<CmgaError, CmgaConfig> => {
  const decoded = CmgaConfigCodec.decode(json)
  const problems = [
    ...unknownFields(json),
    ...(E.isLeft(decoded) ? decoded.left.map(describe) : violations(decoded.right))
  ]
  return problems.length === 0 && E.isRight(decoded)
    ? E.right(decoded.right)
    : fail('config', `${source}: ${problems.join('; ')}`)
}

// -------------------------------------------------------------------------------------
// derived sizes
// -------------------------------------------------------------------------------------

/** N = (imageSize / patchSize)^2: visual tokens before [CLS] is prepended. */
export const numPatches = (c: CmgaConfig): number => (c.vision.imageSize / c.vision.patchSize) ** 2

/**
 * The token-count schedule of compression (spec section 5): from T = N + 1, at each
 * compression layer M = T - 1, Kn = ceil(round(keepRate * M, 6 decimals)), T = Kn + 2.
 */
export const keptCounts = (c: CmgaConfig): ReadonlyArray<KeptCount> => {
  let tokens = numPatches(c) + 1
  return c.compression.layers.map((layer) => {
    const candidates = tokens - 1
    const kept = Math.ceil(Math.round(c.compression.keepRate * candidates * 1e6) / 1e6)
    tokens = kept + 2
    return { layer, candidates, kept, tokensAfter: tokens }
  })
}
