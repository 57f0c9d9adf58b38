/**
 * From kept candidate indices back to original patch positions (spec section 5).
 *
 * Before the first compression layer, candidate i is patch i (row-major over the
 * S/P x S/P grid). A compression layer keeps some candidates and appends one fused
 * token, so the candidates of the next layer are `[kept..., fused]`. Each token is
 * tracked as the patches it stands for, with weights that sum to 1: a kept token keeps
 * its cover; the fused token covers every patch of every dropped candidate, each
 * weighted by the fusion weight `w_i` (spec: `s_i` over the dropped candidates,
 * normalized) times its weight inside that candidate. So a fused token made at one
 * layer and kept at a later one covers all the patches it absorbed.
 * @since 0.1.0
 */
import * as E from 'fp-ts/lib/Either.js'
import type { CmgaError } from '../../compiler/errors.js'
import { fail } from '../../compiler/errors.js'

// -------------------------------------------------------------------------------------
// model
// -------------------------------------------------------------------------------------

/** One visual token as the original patches it covers (ascending) and their weights. */
export interface Cover {
  readonly patches: readonly number[]
  /** Weight of each patch in the token, summing to 1; absent when no guidance scores were given. */
  readonly weights?: readonly number[]
}

/** One compression layer of one image, as a vision graph reports it. */
export interface CompressionStep {
  readonly layer: number
  /** The kept candidate indices, ascending (`keep.{layer}` of one image). */
  readonly keep: readonly number[]
  /** The guidance score `s` of every candidate (`guide.{layer}`), for the fusion weights. */
  readonly scores?: readonly number[]
}

/** The visual tokens after one compression layer. */
export interface LayerPatches {
  readonly layer: number
  /** How many candidates competed (M). */
  readonly candidates: number
  /** Per kept token, in sequence order: the patches it covers. */
  readonly kept: readonly Cover[]
  /** The fused token made at this layer: every patch no kept token covers. */
  readonly fused: Cover
  /** Every patch a kept token covers, ascending: "the patches still kept at this layer". */
  readonly keptPatches: readonly number[]
}

// -------------------------------------------------------------------------------------
// tracing
// -------------------------------------------------------------------------------------

const single = (p: number, weighted: boolean): Cover => (weighted ? { patches: [p], weights: [1] } : { patches: [p] })

/** The fused token: the dropped candidates' covers mixed with weights `w` (or unweighted). */
const fuse = (dropped: ReadonlyArray<{ cover: Cover; w: number }>, weighted: boolean): Cover => {
  const acc = new Map<number, number>()
  for (const { cover, w } of dropped) cover.patches.forEach((p, j) => acc.set(p, (acc.get(p) ?? 0) + w * (cover.weights?.[j] ?? 0)))
  const patches = [...acc.keys()].sort((a, b) => a - b)
  return weighted ? { patches, weights: patches.map((p) => acc.get(p) as number) } : { patches }
}

const checkStep = (s: CompressionStep, M: number, at: string): E.Either<CmgaError, CompressionStep> => {
  if (s.keep.length > M) return fail('input', `${at}: ${s.keep.length} kept indices but only ${M} candidates`)
  for (const [k, i] of s.keep.entries()) {
    if (!Number.isInteger(i) || i < 0 || i >= M) return fail('input', `${at}: kept index ${i} is not a candidate index in [0, ${M})`)
    if (k > 0 && i <= s.keep[k - 1]) return fail('input', `${at}: kept indices must be strictly ascending (${s.keep[k - 1]} then ${i})`)
  }
  if (s.scores !== undefined && s.scores.length !== M) return fail('input', `${at}: ${s.scores.length} guidance scores for ${M} candidates`)
  return E.right(s)
}

/**
 * Traces compression layers back to patches: for each step (in layer order), which
 * original patches every kept token and the new fused token cover. With `scores` on
 * every step the covers carry weights; without, only the patch sets.
 */
export const tracePatches = (numPatches: number, steps: readonly CompressionStep[]): E.Either<CmgaError, LayerPatches[]> => {
  const weighted = steps.every((s) => s.scores !== undefined)
  let candidates: Cover[] = Array.from({ length: numPatches }, (_, p) => single(p, weighted))
  const out: LayerPatches[] = []
  for (const [n, step] of steps.entries()) {
    const checked = checkStep(step, candidates.length, `compression layer ${step.layer} (step ${n})`)
    if (E.isLeft(checked)) return checked
    const keep = new Set(step.keep)
    const dropped = candidates.flatMap((cover, i) => (keep.has(i) ? [] : [{ cover, s: step.scores?.[i] ?? 0 }]))
    const total = Math.max(dropped.reduce((a, d) => a + d.s, 0), 1e-12)
    const fused = fuse(dropped.map((d) => ({ cover: d.cover, w: d.s / total })), weighted)
    const kept = step.keep.map((i) => candidates[i])
    out.push({ layer: step.layer, candidates: candidates.length, kept, fused, keptPatches: kept.flatMap((c) => c.patches).sort((a, b) => a - b) })
    candidates = [...kept, fused]
  }
  return E.right(out)
}

/** Each patch's weight in a cover, as a dense array over all `numPatches` patches (0 where not covered). */
export const coverWeights = (cover: Cover, numPatches: number): number[] => {
  const dense = new Array<number>(numPatches).fill(0)
  cover.patches.forEach((p, j) => (dense[p] = cover.weights?.[j] ?? 1 / cover.patches.length))
  return dense
}
