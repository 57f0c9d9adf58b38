/**
 * Ranking, as pure functions: stage-1 order (spec section 7: `score_global +
 * score_local`), the two re-ranking rules for the top k, and recall at K.
 * @since 0.1.0
 */

// -------------------------------------------------------------------------------------
// model
// -------------------------------------------------------------------------------------

/**
 * How re-ranking orders the top k of stage 1: `itm` is ALBEF's rule (the ITM match
 * probability alone); `combined` orders by `stage1 + weight * log-odds` of the ITM head,
 * which a weakly trained ITM head cannot wreck the way it wrecks ALBEF's rule.
 */
export type RerankRule = { readonly kind: 'itm' } | { readonly kind: 'combined'; readonly weight: number }

/** A stage-1 candidate: an index into the gallery and its stage-1 score. */
export interface Candidate {
  readonly index: number
  readonly score: number
}

/** The ITM head's verdict on a pair: `logOdds = logit[1] - logit[0]`, `probability = sigmoid(logOdds)`. */
export interface Match {
  readonly logOdds: number
  readonly probability: number
}

/** A ranked entry: stage-1 score, the ITM verdict when it was re-ranked, and the score it was ordered by. */
export interface Ranked {
  readonly index: number
  readonly stage1: number
  readonly match?: Match
  /** What the entry was ordered by: the rule's score in the top k, `stage1` below it. */
  readonly score: number
}

// -------------------------------------------------------------------------------------
// ordering
// -------------------------------------------------------------------------------------

/** Indices of the `k` largest scores, best first, ties to the lower index. */
export const topIndices = (scores: ArrayLike<number>, k: number = scores.length): number[] => {
  const idx = Array.from({ length: scores.length }, (_, i) => i)
  idx.sort((a, b) => scores[b] - scores[a] || a - b)
  return idx.slice(0, Math.max(0, k))
}

/** Candidates ordered by score, best first, ties to the lower index. */
export const byScore = <A extends { readonly index: number; readonly score: number }>(xs: readonly A[]): A[] =>
  [...xs].sort((a, b) => b.score - a.score || a.index - b.index)

/** The ITM verdict from a pair's two logits (no match, match). */
export const matchOf = (noMatch: number, match: number): Match => {
  const logOdds = match - noMatch
  return { logOdds, probability: 1 / (1 + Math.exp(-logOdds)) }
}

/** The score the rule orders a re-ranked entry by. */
export const ruleScore = (rule: RerankRule, stage1: number, m: Match): number =>
  rule.kind === 'itm' ? m.probability : stage1 + rule.weight * m.logOdds

/**
 * Re-ranks: `ranked` is in stage-1 order; its first `k` entries are re-ordered by the
 * rule (using `matches[i]` for entry i), the rest keep their stage-1 order after them.
 */
export const rerankTop = (ranked: readonly Candidate[], matches: readonly Match[], k: number, rule: RerankRule): Ranked[] => {
  const n = Math.min(k, ranked.length, matches.length)
  const top = byScore(ranked.slice(0, n).map((c, i) => ({ index: c.index, stage1: c.score, match: matches[i], score: ruleScore(rule, c.score, matches[i]) })))
  const rest = ranked.slice(n).map((c) => ({ index: c.index, stage1: c.score, score: c.score }))
  return [...top, ...rest]
}

// -------------------------------------------------------------------------------------
// features
// -------------------------------------------------------------------------------------

/**
 * `a[i] . b[j]` for rows of two [n, E] matrices, accumulated in float64: the global
 * score for choosing stage-1 candidates from a large gallery (the stage-1 scores
 * themselves come from the compiled `scores` graph).
 */
export const dotRows = (a: Float32Array, i: number, b: Float32Array, j: number, E: number): number => {
  let s = 0
  for (let e = 0; e < E; e++) s += a[i * E + e] * b[j * E + e]
  return s
}

// -------------------------------------------------------------------------------------
// recall
// -------------------------------------------------------------------------------------

/** `x` of `n` in percent (0 when `n` is 0). */
export const percentOf = (x: number, n: number): number => (n === 0 ? 0 : (100 * x) / n)

/**
 * Recall at each K (in percent): the share of queries whose best-ranked relevant item
 * is within the first K of `order[q]` (ALBEF's definition).
 */
export const recallAtK = (orders: readonly (readonly number[])[], relevant: readonly ReadonlySet<number>[], ks: readonly number[]): number[] => {
  const ranks = orders.map((order, q) => {
    const r = order.findIndex((i) => relevant[q].has(i))
    return r < 0 ? Number.POSITIVE_INFINITY : r
  })
  return ks.map((k) => percentOf(ranks.filter((r) => r < k).length, orders.length))
}
