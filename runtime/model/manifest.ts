/**
 * The manifest of a compiled model directory (`manifest.json`): which ONNX file holds
 * which stage, each graph's inputs and outputs, the config, and who compiled it. The
 * config stays `unknown` here: the model's own layer decodes it.
 * @since 0.1.0
 */
import * as E from 'fp-ts/lib/Either.js'
import * as t from 'io-ts'
import type { CmgaError } from '../../compiler/errors.js'
import { fail } from '../../compiler/errors.js'
import type { Graph } from '../../compiler/ir/graph.js'

const ValueSpec = t.type({ name: t.string, dtype: t.string, shape: t.array(t.union([t.number, t.string])) })

const StageSpec = t.type({ file: t.string, inputs: t.array(ValueSpec), outputs: t.array(ValueSpec) })

/**
 * How `cmga retrieve` ranks with this model unless told otherwise: the candidates it
 * re-ranks with the ITM head (`k`, 0: stage 1 only), the combined rule's weight, and why
 * (e.g. the held-out recall that chose them). Set at compile time (`cmga compile --serve-k`).
 */
export const RankingDefaultsCodec = t.intersection([t.type({ k: t.number }), t.partial({ itmWeight: t.number, why: t.string })])

/** A decoded `ranking`. */
export type RankingDefaults = t.TypeOf<typeof RankingDefaultsCodec>

/** The manifest's codec (the config inside is left to the model's own decoder). */
export const ManifestCodec = t.intersection([
  t.type({
    format: t.literal('cmga-model'),
    formatVersion: t.literal(1),
    compiler: t.type({ name: t.string, version: t.string }),
    config: t.unknown,
    weights: t.type({ source: t.string, summary: t.string }),
    quantize: t.union([t.literal('none'), t.literal('int8')]),
    stages: t.record(t.string, StageSpec)
  }),
  /** `data`: the external data file the stages share (their large weights, each once); `ranking`: `RankingDefaults`. */
  t.partial({ data: t.string, ranking: RankingDefaultsCodec })
])

/** A decoded manifest. */
export type Manifest = t.TypeOf<typeof ManifestCodec>

/** One stage's entry. */
export type StageSpec = t.TypeOf<typeof StageSpec>

/** A graph's inputs and outputs as manifest entries. */
export const describeGraph = (file: string, g: Graph): StageSpec => ({
  file,
  inputs: g.inputs.map((i) => ({ name: i.attrs.name, dtype: i.dtype, shape: [...i.shape] })),
  outputs: g.outputs.map((o) => ({ name: o.name, dtype: o.node.dtype, shape: [...o.node.shape] }))
})

/** The distinct field paths an io-ts decode failed at (`(root)` for the value itself), in order. */
export const failedPaths = (errs: t.Errors): string[] => [...new Set(errs.map((e) => e.context.map((c) => c.key).filter((k) => k !== '').join('.') || '(root)'))]

/** Decodes a manifest read from `source`. */
export const decodeManifest = (json: unknown, source: string): E.Either<CmgaError, Manifest> => {
  const m = ManifestCodec.decode(json)
  if (E.isLeft(m)) {
    const paths = failedPaths(m.left)
    return fail('format', `${source}: not a cmga model manifest (bad or missing: ${paths.join(', ')})`)
  }
  return E.right(m.right)
}
