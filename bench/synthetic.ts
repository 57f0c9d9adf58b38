/**
 * Synthetic gallery features for the store benchmark and tests, no model needed: global
 * features drawn from a Gaussian mixture (clusters, as real embeddings have; uniform
 * random vectors are the worst case for IVF), L2-normalised, and token features drawn
 * around their image's global feature. Deterministic by seed.
 * @since 0.2.0
 */
import type { ImageFeatures } from '../apps/cmga/features.js'
import { mulberry32 } from '../runtime/prng.js'

/** The mixture's shape. */
export interface Mixture {
  readonly dim: number
  readonly clusters: number
  /** Spread of a point around its cluster's centre, relative to the centre's norm (1). */
  readonly spread: number
  readonly seed: number
}

/** A standard normal sampler over a uniform one (Box-Muller). */
const normal = (rand: () => number): (() => number) => () => Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand())

const normalise = (v: Float32Array, at: number, dim: number): void => {
  let s = 0
  for (let e = 0; e < dim; e++) s += v[at + e] * v[at + e]
  const k = 1 / Math.sqrt(s || 1)
  for (let e = 0; e < dim; e++) v[at + e] *= k
}

/** A generator of gallery batches and queries from one mixture. */
export const mixture = (m: Mixture): { batch: (n: number, tokens: number) => ImageFeatures; queries: (n: number) => Float32Array } => {
  const rand = mulberry32(m.seed)
  const gauss = normal(rand)
  const centres = new Float32Array(m.clusters * m.dim)
  for (let c = 0; c < m.clusters; c++) {
    for (let e = 0; e < m.dim; e++) centres[c * m.dim + e] = gauss()
    normalise(centres, c * m.dim, m.dim)
  }
  const sigma = m.spread / Math.sqrt(m.dim)
  const point = (out: Float32Array, at: number): void => {
    const c = Math.floor(rand() * m.clusters)
    for (let e = 0; e < m.dim; e++) out[at + e] = centres[c * m.dim + e] + sigma * gauss()
    normalise(out, at, m.dim)
  }
  return {
    batch: (n, T) => {
      const global = new Float32Array(n * m.dim)
      const tokens = new Float32Array(n * T * m.dim)
      for (let i = 0; i < n; i++) {
        point(global, i * m.dim)
        for (let t = 0; t < T; t++) {
          const at = (i * T + t) * m.dim
          for (let e = 0; e < m.dim; e++) tokens[at + e] = global[i * m.dim + e] + sigma * gauss()
          normalise(tokens, at, m.dim)
        }
      }
      return { global: { dtype: 'float32', shape: [n, m.dim], data: global }, tokens: { dtype: 'float32', shape: [n, T, m.dim], data: tokens } }
    },
    queries: (n) => {
      const q = new Float32Array(n * m.dim)
      for (let i = 0; i < n; i++) point(q, i * m.dim)
      return q
    }
  }
}
