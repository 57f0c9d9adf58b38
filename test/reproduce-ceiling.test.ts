/**
 * The best recall on a shapes-world set: which captions are synonyms, and the expected
 * recall of a perfect model when synonyms tie.
 */
import * as E from 'fp-ts/lib/Either.js'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { meaningOf } from '../apps/data/meaning.js'
import { recallCeiling } from '../apps/reproduce/ceiling.js'
import type { Annotations } from '../apps/retrieval/annotations.js'
import { decodeAnnotations } from '../apps/retrieval/annotations.js'

const set = (captions: readonly string[]): Annotations => {
  const a = decodeAnnotations(captions.map((caption, i) => ({ image: `images/${i}.png`, caption })), 'test', 'test')
  if (E.isLeft(a)) throw new Error(a.left.message)
  return a.right
}

test('meaning: the two objects in either order, the relation turned to match; other text has none', () => {
  assert.is(meaningOf('a red circle left of a blue square'), meaningOf('a blue square right of a red circle'))
  assert.is(meaningOf('a green triangle above a white circle'), meaningOf('A white circle  below a green triangle'))
  assert.is.not(meaningOf('a red circle left of a blue square'), meaningOf('a red circle right of a blue square'))
  assert.is.not(meaningOf('a red circle left of a blue square'), meaningOf('a blue circle left of a red square'))
  assert.is(meaningOf('a dog on a sofa'), undefined)
  assert.is(meaningOf('a pink circle left of a blue square'), undefined)
})

test('ceiling: distinct meanings give 100; a pair of synonyms halves R@1 for both; 3 alike give 1/3, 2/3, 1', () => {
  const distinct = recallCeiling(set(['a red circle left of a blue square', 'a red circle right of a blue square', 'a blue circle left of a red square']))
  assert.is(distinct?.r_mean, 100)
  const pair = recallCeiling(set(['a red circle left of a blue square', 'a blue square right of a red circle', 'a green circle above a white square']))
  assert.ok(Math.abs((pair?.txt_r1 ?? 0) - (100 * (0.5 + 0.5 + 1)) / 3) < 1e-9)
  assert.ok(Math.abs((pair?.img_r1 ?? 0) - (100 * 2) / 3) < 1e-9)
  assert.is(pair?.img_r5, 100)
  const three = recallCeiling(set(Array.from({ length: 12 }, () => 'a red circle left of a blue square')))
  assert.ok(Math.abs((three?.img_r1 ?? 0) - 100 / 12) < 1e-9)
  assert.ok(Math.abs((three?.img_r5 ?? 0) - 500 / 12) < 1e-9)
  assert.ok(Math.abs((three?.img_r10 ?? 0) - 1000 / 12) < 1e-9)
  assert.equal([three?.txt_r1, three?.txt_r5, three?.txt_r10].map((x) => Math.round((x ?? 0) * 1e9) / 1e9), [100 / 12, 500 / 12, 1000 / 12].map((x) => Math.round(x * 1e9) / 1e9))
  assert.is(recallCeiling(set(['a dog on a sofa'])), undefined)
})

test.run()
