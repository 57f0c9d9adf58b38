/**
 * The training driver's pure parts: MLM masking, batch order, annotations, the
 * made vocabulary, the learning-rate and keep-rate schedules, the loss plot; and the
 * pipeline's flips (with "left" and "right" swapped) and ITM noise.
 */
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import * as E from 'fp-ts/lib/Either.js'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import type { HostTensor } from '../compiler/ir/tensor.js'
import { keepRateAt, keepRateLevels, quantizedKeepRate, tokenSchedule } from '../models/cmga/keep-rate.js'
import { readConfigFile } from '../apps/cmga/config-file.js'
import { mulberry32 } from '../runtime/prng.js'
import sharp from 'sharp'
import { loadImages } from '../runtime/images/index.js'
import { loadTokenizer } from '../runtime/text/index.js'
import type { Batch, FlipMode } from '../apps/train/data.js'
import { batchIndices, gumbelNoise, makePipeline, readAnnotations, swapAboveBelow, swapLeftRight } from '../apps/train/data.js'
import { maskTokens } from '../apps/train/mlm.js'
import { lossCurveSvg } from '../apps/train/plot.js'
import { learningRate } from '../apps/train/schedule.js'
import { vocabFromCaptions } from '../apps/train/vocab.js'
import { tempDir } from './support/cli.js'

const i64 = (shape: number[], f: (i: number) => number): HostTensor<'int64'> => ({ dtype: 'int64', shape, data: BigInt64Array.from({ length: shape[0] * shape[1] }, (_, i) => BigInt(f(i))) })

test('MLM masking: 15% of eligible tokens, 80/10/10, specials and padding untouched, seeded', () => {
  const [B, L] = [200, 50]
  const ids = i64([B, L], (i) => (i % L === 0 ? 2 : i % L === L - 1 ? 3 : 10 + (i % 37)))
  const mask = i64([B, L], (i) => (i % L < L - 5 ? 1 : 0)) // the last 5 of each row are padding
  const vocab = { special: new Set([0, 1, 2, 3, 4]), maskId: 4, size: 60 }
  const a = maskTokens(ids, mask, vocab, mulberry32(3))
  const b = maskTokens(ids, mask, vocab, mulberry32(3))
  assert.equal(a.ids.data, b.ids.data, 'same seed, same masks')
  let [eligible, targets, masked, random, kept] = [0, 0, 0, 0, 0]
  for (let i = 0; i < B * L; i++) {
    const isEligible = mask.data[i] === 1n && !vocab.special.has(Number(ids.data[i]))
    eligible += isEligible ? 1 : 0
    if (a.labels.data[i] === -100n) {
      assert.is(a.ids.data[i], ids.data[i], 'non-targets keep their token')
      continue
    }
    assert.ok(isEligible, 'only eligible tokens become targets')
    assert.is(a.labels.data[i], ids.data[i])
    targets++
    if (a.ids.data[i] === 4n) masked++
    else if (a.ids.data[i] === ids.data[i]) kept++
    else random++
  }
  assert.ok(Math.abs(targets / eligible - 0.15) < 0.01, `targets ${targets / eligible}`)
  assert.ok(Math.abs(masked / targets - 0.8) < 0.03 && Math.abs(random / targets - 0.1) < 0.03 && Math.abs(kept / targets - 0.1) < 0.03, `${masked} ${random} ${kept}`)
})

test('batch order: every epoch a seeded permutation, a pure function of (seed, step)', () => {
  const [n, B] = [10, 4]
  const seen = Array.from({ length: 5 }, (_, s) => batchIndices(n, B, 9, s)).flat() // 20 = 2 epochs
  assert.equal([...seen.slice(0, 10)].sort((x, y) => x - y), [...Array(10).keys()])
  assert.equal([...seen.slice(10, 20)].sort((x, y) => x - y), [...Array(10).keys()])
  assert.equal(batchIndices(n, B, 9, 3), seen.slice(12, 16), 'no state: step 3 alone is the same')
  assert.not.equal(batchIndices(n, B, 10, 0), seen.slice(0, 4), 'another seed, another order')
})

test('annotations: ALBEF JSON with one or several captions; errors name the entry', () => {
  const dir = tempDir('cmga-ann-')
  writeFileSync(join(dir, 'a.png'), 'x')
  const good = join(dir, 'good.json')
  writeFileSync(good, JSON.stringify([{ image: 'a.png', caption: 'one' }, { image: 'a.png', caption: ['two', 'three'] }]))
  const r = readAnnotations(good, dir)
  assert.ok(E.isRight(r))
  assert.equal((r as E.Right<readonly { caption: string }[]>).right.map((x) => x.caption), ['one', 'two', 'three'])
  const bad = join(dir, 'bad.json')
  writeFileSync(bad, JSON.stringify([{ image: 'a.png', caption: 'one' }, { image: 'b.png', caption: 'two' }]))
  assert.match((readAnnotations(bad, dir) as E.Left<{ message: string }>).left.message, /entry 1: image .*b\.png does not exist/)
  writeFileSync(bad, JSON.stringify([{ image: 'a.png' }]))
  assert.match((readAnnotations(bad, dir) as E.Left<{ message: string }>).left.message, /entry 0 must be \{"image": PATH, "caption": TEXT/)
})

test('a vocabulary made from captions: specials, then words by frequency', () => {
  const lines = vocabFromCaptions([{ image: '', caption: 'A red dog.' }, { image: '', caption: 'a blue dog' }, { image: '', caption: 'a cat' }], 8)
  assert.equal(lines, ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]', 'a', 'dog', 'blue'])
})

test('learning rate: linear warm-up, then cosine to 1% (or to --lr-floor)', () => {
  const s = { base: 1, steps: 101, warmup: 10 }
  assert.ok(Math.abs(learningRate(s, 0) - 1 / 11) < 1e-12)
  assert.ok(Math.abs(learningRate(s, 10) - 1) < 1e-12)
  assert.ok(Math.abs(learningRate(s, 100) - 0.01) < 1e-12)
  assert.ok(learningRate(s, 50) < learningRate(s, 40))
  assert.is(learningRate({ ...s, floor: 0 }, 100), 0)
  assert.ok(Math.abs(learningRate({ ...s, floor: 0.2 }, 100) - 0.2) < 1e-12)
})

test('swapLeftRight: whole words, any case, kept', () => {
  assert.is(swapLeftRight('a red circle left of a blue square'), 'a red circle right of a blue square')
  assert.is(swapLeftRight('Right of it, LEFT of that; leftover rightly'), 'Left of it, RIGHT of that; leftover rightly')
  assert.is(swapLeftRight('a green triangle above a white circle'), 'a green triangle above a white circle')
})

// The flip tests' pictures: S x S px, a red band along one edge and a blue one parallel to it.
const S = 8

/** n such pictures (bands of columns for 'x', of rows for 'y'; the blue one at k % 5 + 2), captioned by `caption`, with a tokenizer of `words`. */
const bandedSet = async (prefix: string, n: number, axis: 'x' | 'y', caption: (k: number) => string, words: readonly string[]): Promise<{ examples: Array<{ image: string; caption: string }>; tk: Parameters<typeof makePipeline>[1] }> => {
  const dir = tempDir(prefix)
  const examples: Array<{ image: string; caption: string }> = []
  for (let k = 0; k < n; k++) {
    const rgb = Buffer.alloc(S * S * 3, 20)
    for (let a = 0; a < S; a++) for (const [b, c] of [[0, 0], [k % 5 + 2, 2]] as const) rgb[((axis === 'x' ? a * S + b : b * S + a)) * 3 + c] = 230
    const image = join(dir, `${k}.png`)
    await sharp(rgb, { raw: { width: S, height: S, channels: 3 } }).png().toFile(image)
    examples.push({ image, caption: caption(k) })
  }
  writeFileSync(join(dir, 'vocab.txt'), words.join('\n') + '\n')
  return { examples, tk: (loadTokenizer(join(dir, 'vocab.txt'), { maxLength: 12 }) as E.Right<Parameters<typeof makePipeline>[1]>).right }
}

/** Picture i of a batch. */
const picture = (b: Batch, i: number): Float32Array => (b.pixels.data as Float32Array).subarray(i * 3 * S * S, (i + 1) * 3 * S * S)

/** Caption i of a batch (12 tokens), as token ids. */
const caption = (b: Batch, i: number): bigint[] => [...(b.input_ids.data as BigInt64Array).subarray(i * 12, (i + 1) * 12)]

const mirrorLR = (x: Float32Array): Float32Array => x.map((_, j) => x[j - (j % S) + S - 1 - (j % S)])

const mirrorTB = (x: Float32Array): Float32Array => x.map((_, j) => { const [c, y, xx] = [Math.floor(j / (S * S)), Math.floor(j / S) % S, j % S]; return x[c * S * S + (S - 1 - y) * S + xx] })

test('flips: swap mirrors the pixels and swaps left/right in the caption, plain mirrors only, none leaves both', async () => {
  const words = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]', 'a', 'blue', 'circle', 'left', 'of', 'red', 'right', 'square']
  const { examples, tk } = await bandedSet('cmga-flip-', 6, 'x', (k) => (k % 2 === 0 ? 'a red square left of a blue circle' : 'a red square right of a blue circle'), words)
  const batches = async (flip: FlipMode): Promise<Batch[]> => {
    const p = makePipeline(examples, tk, undefined, { objectives: ['itc'], itmNoise: false, batch: 3, length: 12, imageSize: S, seed: 5, flip })
    return Promise.all([0, 1, 2, 3].map(async (k) => (await p.batchAt(k) as E.Right<Batch>).right))
  }
  const [none, plain, swap] = [await batches('none'), await batches('plain'), await batches('swap')]
  const [left, right] = [BigInt(words.indexOf('left')), BigInt(words.indexOf('right'))]
  const [row, ids] = [picture, caption]
  let flipped = 0
  for (let k = 0; k < 4; k++) {
    for (let i = 0; i < 3; i++) {
      const [n, p, s] = [row(none[k], i), row(plain[k], i), row(swap[k], i)]
      const isFlipped = !s.every((v, j) => v === n[j])
      assert.equal(p, s, 'plain and swap flip the same images')
      assert.equal(ids(plain[k], i), ids(none[k], i), 'plain leaves the caption')
      if (!isFlipped) {
        assert.equal(ids(swap[k], i), ids(none[k], i), 'an unflipped caption is unchanged')
        continue
      }
      flipped++
      assert.equal(s, mirrorLR(n), 'a flipped image is mirrored')
      assert.equal(ids(swap[k], i), ids(none[k], i).map((t) => (t === left ? right : t === right ? left : t)), 'its caption has left and right swapped')
      assert.ok(ids(none[k], i).some((t) => t === left || t === right))
    }
  }
  assert.ok(flipped > 0 && flipped < 12, `${flipped} of 12 flipped`)
  for (let k = 0; k < 4; k++) {
    const direct = await loadImages(batchIndices(6, 3, 5, k).map((i) => examples[i].image), S, { onError: 'fail' })
    assert.equal(none[k].pixels.data, (direct as E.Right<{ pixels: HostTensor }>).right.pixels.data, 'none: the pixels as loaded')
  }
  // ITM noise: its own stream of (seed, step), so a resume draws it again and flips do not move
  const noisy = (): Parameters<typeof makePipeline>[3] => ({ objectives: ['itc', 'itm'], itmNoise: true, batch: 3, length: 12, imageSize: S, seed: 5, flip: 'swap' })
  const [a, b, other] = [await makePipeline(examples, tk, undefined, noisy()).batchAt(2), await makePipeline(examples, tk, undefined, noisy()).batchAt(2), await makePipeline(examples, tk, undefined, noisy()).batchAt(3)].map((r) => (r as E.Right<Batch>).right)
  assert.equal(a.itm_noise.shape, [2, 3, 3])
  assert.equal(a.itm_noise.data, b.itm_noise.data, 'the same for the same seed and step')
  assert.not.equal(a.itm_noise.data, other.itm_noise.data, 'another step, other noise')
  assert.equal(a.pixels.data, swap[2].pixels.data, 'the flips do not depend on the noise')
})

test('vertical flip: swap mirrors top-bottom and swaps above/below; a caption with a skip word is never flipped; the left-right flips are drawn as without it', async () => {
  assert.is(swapAboveBelow('a red circle above a blue square'), 'a red circle below a blue square')
  assert.is(swapAboveBelow('Below it, ABOVE that; aboveground'), 'Above it, BELOW that; aboveground')
  const words = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]', 'a', 'above', 'below', 'blue', 'circle', 'red', 'square', 'triangle']
  const captioned = (k: number): string => (k % 4 === 3 ? 'a red triangle above a blue circle' : k % 2 === 0 ? 'a red square above a blue circle' : 'a red square below a blue circle')
  const { examples, tk } = await bandedSet('cmga-vflip-', 8, 'y', captioned, words)
  const batches = async (vflip?: { skip: string[] }, flip: FlipMode = 'none'): Promise<Batch[]> => {
    const p = makePipeline(examples, tk, undefined, { objectives: ['itc'], itmNoise: false, batch: 4, length: 12, imageSize: S, seed: 3, flip, ...(vflip === undefined ? {} : { vflip }) })
    return Promise.all([0, 1, 2, 3, 4, 5].map(async (k) => (await p.batchAt(k) as E.Right<Batch>).right))
  }
  const [none, v] = [await batches(), await batches({ skip: ['triangle'] })]
  const [above, below, triangle] = ['above', 'below', 'triangle'].map((w) => BigInt(words.indexOf(w)))
  const [row, ids] = [picture, caption]
  let flipped = 0
  for (let k = 0; k < 6; k++) {
    for (let i = 0; i < 4; i++) {
      const [n, f] = [row(none[k], i), row(v[k], i)]
      if (f.every((x, j) => x === n[j])) {
        assert.equal(ids(v[k], i), ids(none[k], i), 'an unflipped caption is unchanged')
        continue
      }
      flipped++
      assert.equal(f, mirrorTB(n), 'a flipped image is mirrored top-bottom')
      assert.ok(!ids(none[k], i).includes(triangle), 'a caption with a skip word is never flipped')
      assert.equal(ids(v[k], i), ids(none[k], i).map((t) => (t === above ? below : t === below ? above : t)), 'its caption has above and below swapped')
    }
  }
  assert.ok(flipped > 0 && flipped < 24, `${flipped} of 24 flipped`)
  // the left-right flips are drawn from their own stream: the same images mirror with or without --vflip
  const [h, hv] = [await batches(undefined, 'plain'), await batches({ skip: [] }, 'plain')]
  const [hn, vn] = [await batches(undefined), await batches({ skip: [] })]
  for (let k = 0; k < 6; k++) for (let i = 0; i < 4; i++) {
    const mirroredLR = !row(h[k], i).every((x, j) => x === row(hn[k], i)[j])
    const both = row(hv[k], i)
    const vOnly = row(vn[k], i)
    assert.equal(both, mirroredLR ? mirrorLR(vOnly) : vOnly, 'left-right flips do not move')
  }
})

test('image cache: the batches of three epochs, both flips on, are those decoded afresh', async () => {
  const words = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]', 'a', 'above', 'blue', 'circle', 'left', 'of', 'red', 'square']
  const { examples, tk } = await bandedSet('cmga-cache-', 6, 'x', (k) => (k % 2 === 0 ? 'a red square left of a blue circle' : 'a red square above a blue circle'), words)
  const opts = { objectives: ['itc' as const], itmNoise: false, batch: 3, length: 12, imageSize: S, seed: 2, flip: 'swap' as const, vflip: { skip: [] } }
  const [fresh, cached] = [makePipeline(examples, tk, undefined, opts), makePipeline(examples, tk, undefined, { ...opts, imageCacheBytes: 2 ** 20 })]
  for (let k = 0; k < 6; k++) {
    const [a, b] = [await fresh.batchAt(k), await cached.batchAt(k)]
    if (E.isLeft(a) || E.isLeft(b)) return assert.unreachable('both load')
    assert.equal(b.right, a.right, `step ${k}`)
  }
})

test('ITM noise: Gumbel(0, 1) from the seeded stream, finite, the same for the same seed and step', () => {
  const a = gumbelNoise([2, 8, 8], mulberry32(4))
  assert.equal(a.data, gumbelNoise([2, 8, 8], mulberry32(4)).data)
  const big = gumbelNoise([100000], mulberry32(1)).data
  assert.ok(big.every(Number.isFinite))
  const mean = big.reduce((x, y) => x + y, 0) / big.length
  assert.ok(Math.abs(mean - 0.5772) < 0.02, `mean ${mean} (Euler's constant)`)
})

test('keep-rate warm-up: cosine from 1 to the rate, quantized to levels that share graphs', () => {
  assert.is(keepRateAt(0.7, 100, 0), 1)
  assert.ok(Math.abs(keepRateAt(0.7, 100, 50) - 0.85) < 1e-12)
  assert.is(keepRateAt(0.7, 100, 100), 0.7)
  assert.equal(keepRateLevels(0.7, 4).map((x) => Number(x.toFixed(6))), [1, 0.9, 0.8, 0.7])
  const rates = Array.from({ length: 120 }, (_, k) => quantizedKeepRate(0.7, 100, k))
  assert.equal([...new Set(rates)].map((x) => Number(x.toFixed(6))), [1, 0.9, 0.8, 0.7], 'falls through every level in order')
  const c = (readConfigFile('models/cmga/configs/base.json') as E.Right<Parameters<typeof tokenSchedule>[0]>).right
  assert.is(tokenSchedule(c, 0.7), '140,100,72', 'spec section 5: 197 -> 140 -> 100 -> 72')
  assert.is(tokenSchedule(c, 1), '198,199,200', 'keep rate 1 keeps every candidate and adds the (zero) fused token')
})

test('the loss curve is an SVG with one line per series', () => {
  const svg = lossCurveSvg([{ name: 'loss', points: [[1, 3], [2, 2], [3, Number.NaN], [4, 1]] }, { name: 'loss_itc', points: [[1, 1], [4, 0.5]] }], 'run <1>')
  assert.ok(svg.startsWith('<svg') && svg.trimEnd().endsWith('</svg>'))
  assert.is((svg.match(/<polyline/g) ?? []).length, 3, 'raw total, and one smoothed line per series')
  assert.ok(svg.includes('run &lt;1&gt;'))
})

test.run()
