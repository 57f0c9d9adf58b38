/**
 * Where re-ranking goes wrong, on shapes-world sets: for each text -> image query whose
 * image is among the re-ranked top k, every other candidate there by how its caption
 * differs from the query (`confusionOf`), and how often it outscores the true image by
 * stage 1 and by the ITM head. A re-rank gains where the ITM head beats the truth less
 * often than stage 1 does.
 * @since 0.1.0
 */
import type { Candidate, Match } from '../cmga/rank.js'
import { percentOf } from '../cmga/rank.js'
import type { ConfusionKind } from '../data/contrasts.js'
import { CONFUSION_KINDS, confusionOf } from '../data/contrasts.js'

/** Per kind: candidates seen, and the percent that outscore the true image by each score. */
export interface Confusion {
  readonly candidates: number
  readonly stage1: number
  readonly itm: number
}

/**
 * The confusions of text -> image re-ranking: `t2i[j]` is text j's stage-1 list (best
 * first), `matches[j]` the ITM verdicts on its first `k`; `imageCaption(i)` is image i's
 * caption. `undefined` when no query and candidate are shapes-world captions.
 */
export const confusions = (
  texts: readonly string[],
  textImage: readonly number[],
  imageCaption: (image: number) => string,
  t2i: readonly (readonly Candidate[])[],
  matches: readonly (readonly Match[])[],
  k: number
): Readonly<Record<ConfusionKind, Confusion>> | undefined => {
  const counts = new Map(CONFUSION_KINDS.map((kind) => [kind, [0, 0, 0]]))
  t2i.forEach((list, j) => {
    const top = list.slice(0, k)
    const t = top.findIndex((c) => c.index === textImage[j])
    if (t < 0) return
    top.forEach((c, n) => {
      if (n === t) return
      const kind = confusionOf(texts[j], imageCaption(c.index))
      if (kind === undefined) return
      const w = counts.get(kind) as number[]
      w[0]++
      if (c.score > top[t].score) w[1]++
      if (matches[j][n].logOdds > matches[j][t].logOdds) w[2]++
    })
  })
  if ([...counts.values()].every((w) => w[0] === 0)) return undefined
  return Object.fromEntries([...counts].map(([kind, [n, s, m]]) => [kind, { candidates: n, stage1: percentOf(s, n), itm: percentOf(m, n) }])) as Record<ConfusionKind, Confusion>
}
