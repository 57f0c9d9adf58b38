/**
 * The best recall any model can reach on a shapes-world set: a perfect model scores
 * captions of the same meaning alike (`apps/data/meaning.ts`), so among the images (or
 * texts) that match a query equally well the right one lands in the top K only by the
 * order of the tie. Expected over a uniformly random order: text -> image R@K is
 * min(1, K / m) for m images of the query's meaning; image -> text R@K is the chance that
 * one of the image's own n captions is among the first K of the M texts of its meaning.
 * @since 0.1.0
 */
import { meaningOf } from '../data/meaning.js'
import type { Annotations } from '../retrieval/annotations.js'
import type { Recall } from './reproduce.js'

/** P(at least one of n marked items among the first k of m, in a uniformly random order). */
const anyInTop = (n: number, m: number, k: number): number => {
  if (k >= m - n + 1) return 1
  let none = 1
  for (let i = 0; i < n; i++) none *= (m - k - i) / (m - i)
  return 1 - none
}

const mean = (xs: readonly number[]): number => (100 * xs.reduce((a, b) => a + b, 0)) / xs.length

/** The expected recall of a perfect model on `set`; `undefined` when a caption is not of the shapes world. */
export const recallCeiling = (set: Annotations): Recall | undefined => {
  const meanings = set.texts.map(meaningOf)
  if (meanings.some((m) => m === undefined)) return undefined
  const textsOf = new Map<string, number>()
  const imagesOf = new Map<string, Set<number>>()
  meanings.forEach((m, t) => {
    const key = m as string
    textsOf.set(key, (textsOf.get(key) ?? 0) + 1)
    const images = imagesOf.get(key) ?? new Set<number>()
    images.add(set.textImage[t])
    imagesOf.set(key, images)
  })
  const at = (k: number) => ({
    txt: mean(set.imageTexts.map((ts) => (ts.length === 0 ? 0 : anyInTop(ts.length, textsOf.get(meanings[ts[0]] as string) ?? ts.length, k)))),
    img: mean(meanings.map((m) => Math.min(1, k / (imagesOf.get(m as string)?.size ?? 1))))
  })
  const [r1, r5, r10] = [at(1), at(5), at(10)]
  const txt = (r1.txt + r5.txt + r10.txt) / 3
  const img = (r1.img + r5.img + r10.img) / 3
  return { txt_r1: r1.txt, txt_r5: r5.txt, txt_r10: r10.txt, txt_r_mean: txt, img_r1: r1.img, img_r5: r5.img, img_r10: r10.img, img_r_mean: img, r_mean: (txt + img) / 2 }
}
