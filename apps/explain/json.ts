/**
 * `cmga explain --json`: the picture's information as data.
 * @since 0.1.0
 */
import type { Explanation } from './explain.js'
import type { Cover, LayerPatches } from './patches.js'

/** Where the explanation came from. */
export interface ExplainSource {
  readonly model: string
  readonly image: string
  readonly text: string
}

/** One compression layer in the JSON document. */
export interface LayerJson {
  readonly layer: number
  readonly candidates: number
  /** Original patch positions still kept at this layer (covered by a kept token), ascending. */
  readonly keptPatches: readonly number[]
  /** Each kept token, in sequence order: the patches it covers and their weights. */
  readonly keptTokens: readonly Cover[]
  /** The fused token made at this layer: its patches and their weights in it. */
  readonly fused: Cover
}

/** The whole document (`format: "cmga-explain"`). */
export interface ExplanationJson {
  readonly format: 'cmga-explain'
  readonly formatVersion: 1
  readonly source: ExplainSource
  readonly imageSize: number
  readonly patchSize: number
  readonly grid: number
  readonly patchOrder: string
  readonly scores: { readonly global: number; readonly local: number; readonly itmMatch: number }
  readonly guidance: { readonly image: readonly LayerJson[]; readonly joint: readonly LayerJson[] }
  readonly similarity: {
    readonly tokens: readonly string[]
    readonly visualTokens: readonly Cover[]
    readonly values: readonly (readonly number[])[]
  }
}

const layerJson = (l: LayerPatches): LayerJson => ({ layer: l.layer, candidates: l.candidates, keptPatches: l.keptPatches, keptTokens: l.kept, fused: l.fused })

/** The JSON document of an explanation. */
export const explanationJson = (e: Explanation, source: ExplainSource): ExplanationJson => ({
  format: 'cmga-explain',
  formatVersion: 1,
  source,
  imageSize: e.imageSize,
  patchSize: e.patchSize,
  grid: e.grid,
  patchOrder: 'row-major: patch p covers pixel rows [P*floor(p/grid), P*floor(p/grid)+P) and columns [P*(p%grid), P*(p%grid)+P)',
  scores: { global: e.scores.global, local: e.scores.local, itmMatch: e.scores.itm },
  guidance: { image: e.image.map(layerJson), joint: e.joint.map(layerJson) },
  similarity: { tokens: e.words, visualTokens: e.visual, values: e.similarity }
})
