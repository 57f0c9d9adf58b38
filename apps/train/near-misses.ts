/**
 * Near-miss batches: each of some pairs of a batch is joined by a partner whose caption
 * differs from its own in one word, or in two words swapped ("a red circle left of a
 * blue square" and "a blue circle left of a red square"). In-batch contrast and ITM's
 * hard negatives then meet the near-identical pairs a re-rank must tell apart, which
 * randomly drawn batches of a compositional world rarely hold together (NegCLIP's
 * word-swapped captions, here drawn from the data itself rather than written).
 * @since 0.1.0
 */

// -------------------------------------------------------------------------------------
// model
// -------------------------------------------------------------------------------------

/** For each example, the examples whose captions are near misses of its own. */
export interface NearMissIndex {
  /** Examples with at least one near miss. */
  readonly covered: number
  /** The near-miss examples of example `i` (empty when it has none). */
  readonly of: (i: number) => readonly number[]
}

/** Captions longer than this many words are matched on single-word changes only (swaps cost words²). */
export const SWAP_WORDS_MAX = 16

// -------------------------------------------------------------------------------------
// index
// -------------------------------------------------------------------------------------

const words = (caption: string): string[] => caption.toLowerCase().split(/\s+/).filter((w) => w !== '')

/** The keys a caption shares with each of its near misses (and with no other caption). */
const keysOf = (w: readonly string[]): string[] => {
  const keys: string[] = []
  const hole = (i: number, j = -1): string => w.map((x, k) => (k === i || k === j ? '\u0000' : x)).join(' ')
  for (let i = 0; i < w.length; i++) keys.push(`1|${hole(i)}`)
  if (w.length <= SWAP_WORDS_MAX) {
    for (let i = 0; i < w.length; i++) {
      for (let j = i + 1; j < w.length; j++) if (w[i] !== w[j]) keys.push(`2|${hole(i, j)}|${[w[i], w[j]].sort().join(' ')}`)
    }
  }
  return keys
}

/**
 * Indexes `captions` (one per example): two examples are near misses when their
 * captions have the same number of words and differ in exactly one position, or in
 * exactly two positions whose words are swapped. Equal captions are not near misses.
 */
export const nearMissIndex = (captions: readonly string[]): NearMissIndex => {
  const distinct = new Map<string, number[]>()
  captions.forEach((c, i) => {
    const key = words(c).join(' ')
    const list = distinct.get(key)
    if (list === undefined) distinct.set(key, [i])
    else list.push(i)
  })
  const byKey = new Map<string, string[]>()
  for (const caption of distinct.keys()) {
    for (const k of keysOf(caption.split(' '))) {
      const list = byKey.get(k)
      if (list === undefined) byKey.set(k, [caption])
      else list.push(caption)
    }
  }
  const neighbours = new Map<string, number[]>()
  for (const caption of distinct.keys()) {
    const near = new Set<string>()
    for (const k of keysOf(caption.split(' '))) for (const other of byKey.get(k) ?? []) if (other !== caption) near.add(other)
    if (near.size > 0) neighbours.set(caption, [...near].sort().flatMap((c) => distinct.get(c) ?? []))
  }
  const keyOf = captions.map((c) => words(c).join(' '))
  const none: readonly number[] = []
  return { covered: keyOf.filter((k) => neighbours.has(k)).length, of: (i) => neighbours.get(keyOf[i]) ?? none }
}

// -------------------------------------------------------------------------------------
// batches
// -------------------------------------------------------------------------------------

/** How many of a batch of `batch` pairs are partners at share `share` (at most half). */
export const partnersIn = (batch: number, share: number): number => Math.min(Math.floor(batch / 2), Math.round(batch * share))

/**
 * A batch of anchors followed by partners: the first `partners` anchors each get a
 * near miss drawn uniformly with `rand` (an anchor without one gets a uniformly drawn
 * example instead).
 */
export const withPartners = (anchors: readonly number[], partners: number, index: NearMissIndex, size: number, rand: () => number): number[] => {
  const extra = anchors.slice(0, partners).map((a) => {
    const near = index.of(a)
    return near.length > 0 ? near[Math.floor(rand() * near.length)] : Math.floor(rand() * size)
  })
  return [...anchors, ...extra]
}
