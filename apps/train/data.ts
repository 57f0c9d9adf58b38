/**
 * The training data pipeline: an annotation file of image-caption pairs, batches drawn
 * in a seeded order, images loaded with augmentation (bicubic resize, random
 * horizontal flip, "left" and "right" swapped in a flipped image's caption), captions
 * cleaned and tokenized to a fixed length, with MLM the masked inputs, and for ITM
 * negatives other than argmax their noise. Batch `k` is a pure function of the seed and `k` (its
 * own generator, seeded from both), so a resumed run sees exactly the batches an
 * uninterrupted one would. Training runs it on a worker thread (`data-pool.ts`), so
 * the next batch loads while onnxruntime runs the current step.
 * @since 0.1.0
 */
import { existsSync, readFileSync } from 'node:fs'
import { isAbsolute, join } from 'node:path'
import * as E from 'fp-ts/lib/Either.js'
import type { CmgaError } from '../../compiler/errors.js'
import { fail } from '../../compiler/errors.js'
import type { HostTensor } from '../../compiler/ir/tensor.js'
import type { Objective } from '../../models/cmga/train-step.js'
import { ITM_BIAS, ITM_NOISE } from '../../models/cmga/train-step.js'
import { meaningOf } from '../data/meaning.js'
import { loadImages, rgbCache } from '../../runtime/images/index.js'
import { mulberry32 } from '../../runtime/prng.js'
import type { BertTokenizer } from '../../runtime/text/index.js'
import { preCaption } from '../../runtime/text/index.js'
import type { MaskingVocab } from './mlm.js'
import { maskTokens } from './mlm.js'
import type { FocusOption } from './near-misses.js'
import { captionKey, nearMissIndex, partnersIn, withPartners } from './near-misses.js'

// -------------------------------------------------------------------------------------
// annotations
// -------------------------------------------------------------------------------------

/** One image-caption pair (an image with several captions gives several pairs). */
export interface Example {
  /** The image file (the annotation's path joined to the images root). */
  readonly image: string
  readonly caption: string
}

const isRecord = (u: unknown): u is Record<string, unknown> => typeof u === 'object' && u !== null && !Array.isArray(u)

/**
 * Reads ALBEF-style annotations: a JSON array (or JSON Lines, one object a line) of
 * `{"image": PATH, "caption": TEXT | [TEXT, ...]}`, `PATH` relative to `root`. Every
 * image must exist; a bad entry is an error naming its index.
 */
export const readAnnotations = (file: string, root: string): E.Either<CmgaError, readonly Example[]> => {
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (e) {
    return fail('io', `cannot read annotations ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`)
  }
  let entries: unknown
  try {
    entries = file.endsWith('.jsonl') ? text.split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l) as unknown) : JSON.parse(text)
  } catch (e) {
    return fail('format', `${file}: not valid JSON (${(e as Error).message})`)
  }
  if (!Array.isArray(entries)) return fail('format', `${file}: expected an array of {"image": ..., "caption": ...}`)
  const out: Example[] = []
  const seen = new Set<string>()
  for (const [i, entry] of entries.entries()) {
    const captions = isRecord(entry) ? (Array.isArray(entry.caption) ? entry.caption : [entry.caption]) : []
    if (!isRecord(entry) || typeof entry.image !== 'string' || captions.length === 0 || !captions.every((c) => typeof c === 'string')) {
      return fail('format', `${file}: entry ${i} must be {"image": PATH, "caption": TEXT or [TEXT, ...]}`)
    }
    const image = isAbsolute(entry.image) ? entry.image : join(root, entry.image)
    if (!seen.has(image) && !existsSync(image)) return fail('io', `${file}: entry ${i}: image ${image} does not exist`)
    seen.add(image)
    for (const caption of captions as string[]) out.push({ image, caption })
  }
  if (out.length === 0) return fail('input', `${file}: no image-caption pairs`)
  return E.right(out)
}

// -------------------------------------------------------------------------------------
// order
// -------------------------------------------------------------------------------------

/** A generator seeded from a seed and a salt (step, epoch), independent across salts. */
export const streamFor = (seed: number, salt: number, stream = 0): (() => number) =>
  mulberry32((Math.imul(seed >>> 0, 0x9e3779b1) ^ Math.imul(salt + 1, 0x85ebca6b) ^ Math.imul(stream + 1, 0xc2b2ae35)) >>> 0)

/** A seeded permutation of 0..n-1 (Fisher-Yates). */
const permutation = (n: number, rand: () => number): Int32Array => {
  const p = Int32Array.from({ length: n }, (_, i) => i)
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1))
    ;[p[i], p[j]] = [p[j], p[i]]
  }
  return p
}

/**
 * The examples of batch `step`: epochs are seeded permutations of the dataset, read in
 * order `B` at a time (a batch may span two epochs).
 */
export const batchIndices = (n: number, B: number, seed: number, step: number, cache = new Map<number, Int32Array>()): number[] =>
  Array.from({ length: B }, (_, b) => {
    const pos = step * B + b
    const epoch = Math.floor(pos / n)
    let perm = cache.get(epoch)
    if (perm === undefined) {
      perm = permutation(n, streamFor(seed, epoch, 1))
      cache.set(epoch, perm)
      for (const k of cache.keys()) if (k < epoch - 1) cache.delete(k)
    }
    return perm[pos % n]
  })

// -------------------------------------------------------------------------------------
// batches
// -------------------------------------------------------------------------------------

/**
 * The horizontal-flip augmentation, each image with probability 0.5: `none` never
 * flips; `plain` mirrors the image only; `swap` mirrors it and swaps "left" and "right"
 * in its caption, so a relational caption stays true (shapes-world spec, "Mirror
 * symmetry": a plain flip makes "left of" / "right of" unlearnable).
 */
export type FlipMode = 'none' | 'plain' | 'swap'

/**
 * The vertical-flip augmentation (none when absent): each image with probability 0.5 is
 * mirrored top-bottom and "above" and "below" are swapped in its caption, unless the
 * caption (or its near-miss partner's) holds one of the `skip` words, e.g. a shape that is
 * not symmetric top-bottom ("triangle"), which a flip would turn into one never drawn.
 */
export interface VerticalFlip {
  readonly skip: readonly string[]
}

/** What the pipeline needs. */
export interface PipelineOptions {
  /** The objectives the batches feed (with `mlm`, the masked inputs). */
  readonly objectives: readonly Objective[]
  /** Whether batches carry `itm_noise` (ITM negatives other than `hard`). */
  readonly itmNoise: boolean
  /** Whether batches carry `itm_bias` (`partner` ITM negatives, `itmBias`). */
  readonly itmBias?: boolean
  readonly batch: number
  /** Tokens per text ([CLS] and [SEP] included): every batch is padded to it. */
  readonly length: number
  readonly imageSize: number
  readonly seed: number
  /** Words kept per caption by ALBEF's clean-up (default 30). */
  readonly maxWords?: number
  readonly flip: FlipMode
  /** The vertical-flip augmentation; none when absent. */
  readonly vflip?: VerticalFlip
  /** Share of each batch made of near-miss partners (`near-misses.ts`; 0: none, at most 0.5). */
  readonly nearMisses?: number
  /** Where partners are drawn first (`NearMissFocus`), as its words and share. */
  readonly nearMissFocus?: FocusOption
  /** Whether a phrase of one word against two is a near miss too (`nearMissIndex`'s `spans`). */
  readonly nearMissSpans?: boolean
  /** Decoded images kept for later epochs, in bytes (`rgbCache`; default 0: every image decoded each time it comes). */
  readonly imageCacheBytes?: number
}

/** A batch: the feeds of a mode's train-step graph, by input name. */
export type Batch = Readonly<Record<string, HostTensor>>

/** Batches by step. */
export interface Pipeline {
  readonly size: number
  readonly batchAt: (step: number) => Promise<E.Either<CmgaError, Batch>>
}

/** Pads or cuts the columns of an int64 [B, L'] tensor to L with `fill`. */
const toLength = (t: HostTensor<'int64'>, L: number, fill: bigint): HostTensor<'int64'> => {
  const [B, from] = t.shape
  const data = new BigInt64Array(B * L).fill(fill)
  for (let b = 0; b < B; b++) for (let j = 0; j < Math.min(L, from); j++) data[b * L + j] = t.data[b * from + j]
  return { dtype: 'int64', shape: [B, L], data }
}

/** The masking vocabulary of a tokenizer (random replacements among the ids it has). */
export const maskingVocab = (tk: BertTokenizer, vocabSize: number): E.Either<CmgaError, MaskingVocab> =>
  tk.special.mask === undefined
    ? fail('input', `${tk.source}: the vocabulary has no [MASK] token, which pretraining (MLM) needs`)
    : E.right({ special: new Set(Object.values(tk.special)), maskId: tk.special.mask, size: Math.min(tk.vocabSize, vocabSize) })

/** Swaps the whole words `a` and `b` (lower-case; any case in the caption, kept). */
const swapWords = (caption: string, a: string, b: string): string =>
  caption.replace(new RegExp(`\\b(${a}|${b})\\b`, 'gi'), (w) => {
    const to = w.toLowerCase() === a ? b : a
    return w === w.toUpperCase() ? to.toUpperCase() : w[0] === w[0].toUpperCase() ? to[0].toUpperCase() + to.slice(1) : to
  })

/** Swaps the whole words "left" and "right" (any case, keeping it), as a left-right mirrored image needs. */
export const swapLeftRight = (caption: string): string => swapWords(caption, 'left', 'right')

/** Swaps the whole words "above" and "below" (any case, keeping it), as a top-bottom mirrored image needs. */
export const swapAboveBelow = (caption: string): string => swapWords(caption, 'above', 'below')

/** Whether a caption holds one of `words` (lower-case) as a whole word. */
const holdsWord = (caption: string, words: readonly string[]): boolean => caption.toLowerCase().split(/[^a-z0-9]+/).some((w) => words.includes(w))

/** Open-interval uniforms turned Gumbel(0, 1): the noise of sampled and random ITM negatives. */
export const gumbelNoise = (shape: readonly number[], rand: () => number): HostTensor<'float32'> => {
  const n = shape.reduce((a, b) => a * b, 1)
  const data = Float32Array.from({ length: n }, () => -Math.log(-Math.log((Math.floor(rand() * 2 ** 32) + 0.5) / 2 ** 32)))
  return { dtype: 'float32', shape: [...shape], data }
}

/** What `itm_bias` adds to a pair the ITM may not take as a negative, and to a partner pair. */
export const ITM_BIAS_EXCLUDE = -1e4
export const ITM_BIAS_PARTNER = 4

/**
 * `itm_bias` [B, B] of a batch whose last `partners` pairs are near-miss partners of its
 * first ones: ITM_BIAS_EXCLUDE where the two captions mean the same (equal words, or a
 * shapes-world synonym: `meaningOf`), so that no positive is labelled 0;
 * ITM_BIAS_PARTNER (beyond any cosine) between a pair and its partner, so that each is
 * the other's negative; 0 elsewhere (the spec's argmax decides).
 */
export const itmBias = (captions: readonly string[], partners: number): HostTensor<'float32'> => {
  const B = captions.length
  const key = captions.map((c) => meaningOf(c) ?? captionKey(c))
  const data = new Float32Array(B * B)
  for (let i = 0; i < B; i++) for (let j = 0; j < B; j++) if (i !== j && key[i] === key[j]) data[i * B + j] = ITM_BIAS_EXCLUDE
  const anchors = B - partners
  for (let k = 0; k < partners; k++) {
    const a = k
    const p = anchors + k
    if (key[a] === key[p]) continue
    data[a * B + p] = ITM_BIAS_PARTNER
    data[p * B + a] = ITM_BIAS_PARTNER
  }
  return { dtype: 'float32', shape: [B, B], data }
}

/** The pipeline over `examples`; `vocab` is needed with MLM. */
export const makePipeline = (examples: readonly Example[], tk: BertTokenizer, vocab: MaskingVocab | undefined, opts: PipelineOptions): Pipeline => {
  const cache = new Map<number, Int32Array>()
  const cacheBytes = opts.imageCacheBytes ?? 0
  const decoded = cacheBytes > 0 ? rgbCache(cacheBytes) : undefined
  const partners = partnersIn(opts.batch, opts.nearMisses ?? 0)
  const near = partners > 0 ? nearMissIndex(examples.map((x) => x.caption), { spans: opts.nearMissSpans === true }) : undefined
  const f = opts.nearMissFocus
  const focus = f === undefined || f.share === 0 ? undefined : { words: new Set(f.words.map((w) => w.toLowerCase())), share: f.share }
  const batchAt = async (step: number): Promise<E.Either<CmgaError, Batch>> => {
    const anchors = batchIndices(examples.length, opts.batch - partners, opts.seed, step, cache)
    const indices = near === undefined ? anchors : withPartners(anchors, partners, near, examples.length, streamFor(opts.seed, step, 4), focus)
    const picked = indices.map((i) => examples[i])
    const rand = streamFor(opts.seed, step, 2)
    // drawn in every mode, so the MLM masks after them do not depend on --flip; a partner
    // is flipped with its anchor, so that a swapped "left"/"right" keeps it a near miss
    const drawn = anchors.map(() => rand() < 0.5 && opts.flip !== 'none')
    const perPair = <A>(byAnchor: readonly A[]): A[] => picked.map((_, i) => byAnchor[i < anchors.length ? i : i - anchors.length])
    const flips = perPair(drawn)
    // vertical flips from a stream of their own, so runs without them draw as before;
    // an anchor and its partner flip together, and neither when either holds a skip word
    const v = opts.vflip
    const vrand = streamFor(opts.seed, step, 5)
    const vdrawn = v === undefined ? anchors.map(() => false) : anchors.map((_, k) => vrand() < 0.5 && !holdsWord(picked[k].caption, v.skip) && !(anchors.length + k < picked.length && holdsWord(picked[anchors.length + k].caption, v.skip)))
    const vflips = perPair(vdrawn)
    const captions = picked
      .map((x, i) => (flips[i] && opts.flip === 'swap' ? swapLeftRight(x.caption) : x.caption))
      .map((x, i) => (vflips[i] ? swapAboveBelow(x) : x))
    const enc = tk.encode(captions.map((x) => preCaption(x, opts.maxWords ?? 30)))
    const ids = toLength(enc.ids, opts.length, BigInt(tk.special.pad))
    const mask = toLength(enc.mask, opts.length, 0n)
    const text: Record<string, HostTensor> = { input_ids: ids, attention_mask: mask }
    if (opts.objectives.includes('mlm')) {
      if (vocab === undefined) return fail('input', 'MLM needs a masking vocabulary')
      const m = maskTokens(ids, mask, vocab, rand)
      text.mlm_input_ids = m.ids
      text.mlm_labels = m.labels
    }
    if (opts.itmNoise) text[ITM_NOISE] = gumbelNoise([2, opts.batch, opts.batch], streamFor(opts.seed, step, 3))
    if (opts.itmBias === true) text[ITM_BIAS] = itmBias(captions, partners)
    const images = await loadImages(picked.map((x) => x.image), opts.imageSize, { onError: 'fail', flip: (i) => flips[i], flipVertical: (i) => vflips[i], concurrency: picked.length, ...(decoded === undefined ? {} : { cache: decoded }) })
    return E.map((l: { pixels: HostTensor<'float32'> }): Batch => ({ pixels: l.pixels, ...text }))(images)
  }
  return { size: examples.length, batchAt }
}
