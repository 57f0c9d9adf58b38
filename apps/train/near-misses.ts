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

/** For each example, the examples whose captions are near misses of its own, by edit. */
export interface NearMissIndex {
  /** Examples with at least one near miss. */
  readonly covered: number
  /**
   * The near misses of example `i`, one group per edit that has any (a word position
   * changed, or a pair of positions swapped): the examples whose captions it makes.
   */
  readonly of: (i: number) => readonly (readonly number[])[]
  /** For each group of `of(i)`, the words of example `i`'s caption that its edit changes (one, or the two swapped). */
  readonly changed: (i: number) => readonly (readonly string[])[]
}

/**
 * A focus of the partner draw: with probability `share`, the edit is drawn among those
 * that change one of `words` (e.g. the relation words, which contrast of bags of words
 * cannot see), where the anchor has such an edit.
 */
export interface NearMissFocus {
  readonly words: ReadonlySet<string>
  readonly share: number
}

/** A focus as options carry it (`--near-miss-focus WORDS:SHARE`); share 0 is none. */
export interface FocusOption {
  readonly words: readonly string[]
  readonly share: number
}

/** Captions longer than this many words are matched on single-word changes only (swaps cost words²). */
export const SWAP_WORDS_MAX = 16

// -------------------------------------------------------------------------------------
// index
// -------------------------------------------------------------------------------------

/** A caption as the index compares it: lower case, single spaces, trimmed. */
export const captionKey = (caption: string): string => caption.toLowerCase().split(/\s+/).filter((w) => w !== '').join(' ')

/** The keys a caption shares with each of its near misses (and with no other caption); with `spans`, also its phrase edits (`spanKey`). */
const keysOf = (w: readonly string[], spans: boolean): string[] => {
  const keys: string[] = []
  if (spans) for (let i = 0; i < w.length; i++) for (const n of [1, 2]) if (i + n <= w.length) keys.push(spanKey(w, i, n))
  const hole = (i: number, j = -1): string => w.map((x, k) => (k === i || k === j ? '\u0000' : x)).join(' ')
  for (let i = 0; i < w.length; i++) keys.push(`1|${hole(i)}`)
  if (w.length <= SWAP_WORDS_MAX) {
    for (let i = 0; i < w.length; i++) {
      for (let j = i + 1; j < w.length; j++) if (w[i] !== w[j]) keys.push(`2|${hole(i, j)}|${[w[i], w[j]].sort().join(' ')}`)
    }
  }
  return keys
}

/** The key of `w` with the `n` words from `i` cut out: shared by captions that differ in one phrase of one word against two. */
const spanKey = (w: readonly string[], i: number, n: number): string => `3|${w.slice(0, i).join(' ')}|${w.slice(i + n).join(' ')}`

/** The words of `w` at the holes of key `k` (`keysOf`). */
const changedWords = (w: readonly string[], k: string): string[] => {
  if (k.startsWith('3|')) {
    const [, before, after] = k.split('|')
    const [b, a] = [before === '' ? 0 : before.split(' ').length, after === '' ? 0 : after.split(' ').length]
    return w.slice(b, w.length - a)
  }
  const holes = k.split('|')[1].split(' ')
  return w.filter((_, i) => holes[i] === '\u0000')
}

/**
 * Indexes `captions` (one per example): two examples are near misses when their
 * captions have the same number of words and differ in exactly one position, or in
 * exactly two positions whose words are swapped; with `spans`, also when one word of one
 * stands where two stand in the other and the rest is equal ("a red circle above a blue
 * square" and "a red circle left of a blue square": the relation on the other axis).
 * Equal captions are not near misses.
 */
export const nearMissIndex = (captions: readonly string[], opts: { readonly spans?: boolean } = {}): NearMissIndex => {
  const distinct = new Map<string, number[]>()
  captions.forEach((c, i) => {
    const key = captionKey(c)
    const list = distinct.get(key)
    if (list === undefined) distinct.set(key, [i])
    else list.push(i)
  })
  const keys = new Map([...distinct.keys()].map((caption) => [caption, keysOf(caption.split(' '), opts.spans === true)] as const))
  const byKey = new Map<string, string[]>()
  for (const [caption, ks] of keys) {
    for (const k of ks) {
      const list = byKey.get(k)
      if (list === undefined) byKey.set(k, [caption])
      else list.push(caption)
    }
  }
  const groups = new Map<string, { of: number[][]; changed: string[][] }>()
  for (const [caption, ks] of keys) {
    const w = caption.split(' ')
    const edits = ks
      .map((k) => ({ of: (byKey.get(k) ?? []).filter((other) => other !== caption && (!k.startsWith('3|') || Math.abs(other.split(' ').length - w.length) === 1)).flatMap((c) => distinct.get(c) ?? []), changed: changedWords(w, k) }))
      .filter((g) => g.of.length > 0)
    if (edits.length > 0) groups.set(caption, { of: edits.map((g) => g.of), changed: edits.map((g) => g.changed) })
  }
  const keyOf = captions.map(captionKey)
  return { covered: keyOf.filter((k) => groups.has(k)).length, of: (i) => groups.get(keyOf[i])?.of ?? [], changed: (i) => groups.get(keyOf[i])?.changed ?? [] }
}

// -------------------------------------------------------------------------------------
// batches
// -------------------------------------------------------------------------------------

/** How many of a batch of `batch` pairs are partners at share `share` (at most half). */
export const partnersIn = (batch: number, share: number): number => Math.min(Math.floor(batch / 2), Math.round(batch * share))

/**
 * A batch of anchors followed by partners: the first `partners` anchors each get a
 * near miss drawn with `rand`, an edit uniformly and then one of the examples it makes
 * (so a relation that has one opposite weighs as much as a colour that has five), or
 * with `focus` first among the edits of its words at its share; an anchor without near
 * misses gets a uniformly drawn example instead.
 */
export const withPartners = (anchors: readonly number[], partners: number, index: NearMissIndex, size: number, rand: () => number, focus?: NearMissFocus): number[] => {
  const extra = anchors.slice(0, partners).map((a) => {
    const all = index.of(a)
    if (all.length === 0) return Math.floor(rand() * size)
    const focused = focus === undefined ? [] : all.filter((_, g) => index.changed(a)[g].some((w) => focus.words.has(w)))
    const edits = focus !== undefined && focused.length > 0 && rand() < focus.share ? focused : all
    const group = edits[Math.floor(rand() * edits.length)]
    return group[Math.floor(rand() * group.length)]
  })
  return [...anchors, ...extra]
}
