/**
 * Near-miss batches (`--near-misses`): which captions are near misses, how partners are
 * drawn, and the pipeline's batches (partners after anchors, flipped with their anchor,
 * a pure function of seed and step).
 */
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import * as E from 'fp-ts/lib/Either.js'
import sharp from 'sharp'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import type { Batch } from '../apps/train/data.js'
import { ITM_BIAS_EXCLUDE, ITM_BIAS_PARTNER, itmBias, makePipeline } from '../apps/train/data.js'
import { nearMissIndex, partnersIn, withPartners } from '../apps/train/near-misses.js'
import { mulberry32 } from '../runtime/prng.js'
import { loadTokenizer } from '../runtime/text/index.js'
import { tempDir } from './support/cli.js'

const captions = [
  'a red circle left of a blue square', // 0
  'a red circle right of a blue square', // 1: relation changed
  'a blue circle left of a red square', // 2: colours swapped
  'a green circle left of a blue square', // 3: one colour changed
  'a red circle left of a blue square', // 4: equal to 0, not a near miss
  'a blue square right of a red circle', // 5: a paraphrase of 0 (every position differs)
  'a red circle above a blue square', // 6: another length
  'A Red circle left of a  blue square' // 7: equal to 0 up to case and spaces
]

const captionsOf = (group: readonly number[]): string[] => [...new Set(group.map((i) => captions[i].toLowerCase().replace(/\s+/g, ' ')))].sort()

test('near misses: one word changed or two swapped, same length; equal captions and paraphrases are not', () => {
  const ix = nearMissIndex(captions)
  const of0 = ix.of(0).map(captionsOf)
  assert.equal(of0.flat().sort(), [captions[2], captions[3], captions[1]].sort(), 'the near misses of 0')
  assert.equal(
    of0.map((g) => g.length).sort(),
    [1, 1, 1],
    'one group per edit: the relation word, the first colour, the colour swap'
  )
  assert.equal(ix.of(4).map(captionsOf), ix.of(0).map(captionsOf), 'an equal caption has the same near misses')
  assert.equal(ix.of(7).map(captionsOf), ix.of(0).map(captionsOf), 'case and spacing do not matter')
  for (const g of ix.of(0)) assert.ok(!g.includes(4) && !g.includes(5) && !g.includes(6) && !g.includes(7))
  assert.equal(ix.of(5).length, 0)
  assert.equal(ix.of(6).length, 0)
  assert.is(ix.covered, 6, 'all but the paraphrase and the other length')
  assert.ok(ix.of(2).some((g) => g.includes(0) && g.includes(4) && g.includes(7)), 'a group holds every example of a caption')
})

test('near misses with spans: one word against two (the relation on the other axis) also, as one edit with its words; without spans, as before', () => {
  const ix = nearMissIndex(captions, { spans: true })
  const plain = nearMissIndex(captions)
  assert.ok(ix.of(0).some((g) => captionsOf(g).includes(captions[6])), '"above" meets "left of"')
  assert.ok(ix.of(6).some((g) => captionsOf(g).includes(captions[0].toLowerCase())), 'and back')
  const g = ix.of(0).findIndex((x) => x.includes(6))
  assert.equal(ix.changed(0)[g], ['left', 'of'])
  assert.equal(ix.changed(6)[ix.of(6).findIndex((x) => x.includes(0))], ['above'])
  for (let i = 0; i < captions.length; i++) {
    // every plain edit is kept; spans only add groups, each of another caption length
    const extra = ix.of(i).filter((x) => !plain.of(i).some((y) => y.join() === x.join()))
    assert.is(ix.of(i).length - extra.length, plain.of(i).length, `caption ${i}`)
    for (const x of extra) for (const j of x) assert.is(Math.abs(captions[j].trim().split(/\s+/).length - captions[i].trim().split(/\s+/).length), 1)
  }
  assert.not.ok(ix.of(5).some((x) => x.includes(0)), 'a paraphrase is still none')
})

test('partners: after the anchors, a near miss each (an edit drawn uniformly), else any example; at most half a batch', () => {
  const ix = nearMissIndex(captions)
  assert.is(partnersIn(64, 0.25), 16)
  assert.is(partnersIn(64, 0.5), 32)
  assert.is(partnersIn(5, 0.5), 2)
  assert.is(partnersIn(64, 0), 0)
  const counts = new Map<string, number>()
  const rand = mulberry32(7)
  for (let k = 0; k < 3000; k++) {
    const b = withPartners([0, 5], 2, ix, captions.length, rand)
    assert.equal(b.slice(0, 2), [0, 5])
    assert.ok([1, 2, 3].includes(b[2]), 'the partner of 0 is a near miss')
    counts.set(captions[b[2]], (counts.get(captions[b[2]]) ?? 0) + 1)
  }
  for (const c of [1, 2, 3]) assert.ok(Math.abs((counts.get(captions[c]) ?? 0) / 3000 - 1 / 3) < 0.04, `edit of ${captions[c]}: ${counts.get(captions[c])}`)
})

test('focus: at its share, the partner comes from the edits of the focus words; without such an edit, any edit', () => {
  const ix = nearMissIndex(captions)
  assert.equal(ix.changed(0).map((w) => [...w].sort().join(' ')).sort(), ['blue red', 'left', 'red'], 'the words each edit of 0 changes')
  const focus = { words: new Set(['left', 'right']), share: 0.6 }
  const rand = mulberry32(11)
  let relation = 0
  const n = 4000
  for (let k = 0; k < n; k++) if (withPartners([0], 1, ix, captions.length, rand, focus)[1] === 1) relation++
  // 0.6 focused, and a third of the unfocused 0.4
  assert.ok(Math.abs(relation / n - (0.6 + 0.4 / 3)) < 0.03, `relation partners ${relation} of ${n}`)
  const none = { words: new Set(['above']), share: 1 }
  const drawn = new Set(Array.from({ length: 300 }, () => withPartners([0], 1, ix, captions.length, rand, none)[1]))
  assert.equal([...drawn].sort(), [1, 2, 3], 'no edit changes "above": drawn among all')
})

test('itm_bias: a partner pair raised both ways, same-meaning captions (equal or shapes-world synonyms) sunk, the rest 0', () => {
  const batch = [
    'a red circle left of a blue square', // 0, anchor of 3
    'a green circle above a red square', // 1, anchor of 4
    'a blue square right of a red circle', // 2: a synonym of 0
    'a red circle right of a blue square', // 3: partner of 0
    'a green circle above a red square' // 4: "partner" of 1 that is the same caption: not raised
  ]
  const b = itmBias(batch, 2)
  assert.equal(b.shape, [5, 5])
  const at = (i: number, j: number): number => b.data[i * 5 + j]
  assert.is(at(0, 3), ITM_BIAS_PARTNER)
  assert.is(at(3, 0), ITM_BIAS_PARTNER)
  assert.is(at(0, 2), ITM_BIAS_EXCLUDE)
  assert.is(at(2, 0), ITM_BIAS_EXCLUDE)
  assert.is(at(1, 4), ITM_BIAS_EXCLUDE, 'equal captions are never negatives, partner or not')
  assert.is(at(2, 3), 0)
  assert.is(at(0, 0), 0, 'the diagonal is left to the graph')
  assert.ok(ITM_BIAS_PARTNER > 2, 'beyond any difference of two cosines')
})

test('pipeline: --near-misses puts partners after anchors, flipped with their anchor, the same batch for the same step', async () => {
  const dir = tempDir('cmga-near-')
  const S = 8
  const words = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]', 'a', 'blue', 'circle', 'green', 'left', 'of', 'red', 'right', 'square']
  writeFileSync(join(dir, 'vocab.txt'), words.join('\n') + '\n')
  const tk = (loadTokenizer(join(dir, 'vocab.txt'), { maxLength: 12 }) as E.Right<Parameters<typeof makePipeline>[1]>).right
  const set = ['a red circle left of a blue square', 'a red circle right of a blue square', 'a green circle left of a blue square', 'a blue circle left of a red square']
  const examples = await Promise.all(
    Array.from({ length: 12 }, async (_, k) => {
      const rgb = Buffer.alloc(S * S * 3, 10 + k)
      rgb[(k % S) * 3] = 250 // asymmetric, so a flip shows
      const image = join(dir, `${k}.png`)
      await sharp(rgb, { raw: { width: S, height: S, channels: 3 } }).png().toFile(image)
      return { image, caption: set[k % set.length] }
    })
  )
  const opts = { objectives: ['itc' as const], itmNoise: false, batch: 6, length: 12, imageSize: S, seed: 3, flip: 'swap' as const }
  const near = makePipeline(examples, tk, undefined, { ...opts, nearMisses: 0.5 })
  const text = (b: Batch, i: number): string => [...(b.input_ids.data as BigInt64Array).subarray(i * 12, (i + 1) * 12)].map((t) => words[Number(t)]).filter((w) => !w.startsWith('[')).join(' ')
  for (let step = 0; step < 6; step++) {
    const b = (await near.batchAt(step) as E.Right<Batch>).right
    assert.equal(b.input_ids.shape, [6, 12])
    for (let i = 0; i < 3; i++) {
      const [anchor, partner] = [text(b, i), text(b, i + 3)]
      const differ = anchor.split(' ').filter((w, k) => w !== partner.split(' ')[k]).length
      assert.ok(differ === 1 || differ === 2, `step ${step}: "${partner}" is a near miss of "${anchor}" (flipped alike)`)
    }
    const again = (await makePipeline(examples, tk, undefined, { ...opts, nearMisses: 0.5 }).batchAt(step) as E.Right<Batch>).right
    assert.equal(again.input_ids.data, b.input_ids.data)
    assert.equal(again.pixels.data, b.pixels.data)
  }
  const plain = (await makePipeline(examples, tk, undefined, opts).batchAt(0) as E.Right<Batch>).right
  const zero = (await makePipeline(examples, tk, undefined, { ...opts, nearMisses: 0 }).batchAt(0) as E.Right<Batch>).right
  assert.equal(zero.input_ids.data, plain.input_ids.data, '--near-misses 0 is the plain pipeline')
  assert.equal(zero.pixels.data, plain.pixels.data)
})

test.run()
