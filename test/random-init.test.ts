/**
 * Random weights: ALBEF's N(0, 0.02) everywhere by default; with another query/key
 * standard deviation, exactly the text and fusion layers' attention query and key
 * matrices change (the same draws, scaled), and nothing else.
 */
import { readFileSync } from 'node:fs'
import * as E from 'fp-ts/lib/Either.js'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { decodeConfig } from '../models/cmga/config.js'
import { isBertQueryKey, randomWeights } from '../apps/compile/random-init.js'

const decoded = decodeConfig(JSON.parse(readFileSync(new URL('./fixtures/cmga-tiny/config.json', import.meta.url), 'utf8')))
if (E.isLeft(decoded)) throw new Error(decoded.left.message)
const c = decoded.right

const rms = (x: Float32Array): number => Math.sqrt(x.reduce((s, v) => s + v * v, 0) / x.length)

test('isBertQueryKey names the self- and cross-attention query and key matrices of every text and fusion layer', () => {
  const names = [...randomWeights(c, 0).keys()].filter(isBertQueryKey)
  const layers = c.text.textLayers + c.text.fusionLayers
  assert.is(names.length, 2 * layers + 2 * c.text.fusionLayers, names.join(', '))
  assert.ok(names.includes('text_encoder.encoder.layer.0.attention.self.query.weight'))
  assert.ok(names.includes(`text_encoder.encoder.layer.${layers - 1}.crossattention.self.key.weight`))
  assert.not.ok(isBertQueryKey('text_encoder.encoder.layer.0.attention.self.value.weight'))
  assert.not.ok(isBertQueryKey('text_encoder.encoder.layer.0.attention.self.query.bias'))
  assert.not.ok(isBertQueryKey('visual_encoder.blocks.0.attn.qkv.weight'))
})

test('a larger query/key std scales exactly those matrices; every other tensor is unchanged', () => {
  const plain = randomWeights(c, 3)
  const wide = randomWeights(c, 3, 0.02, 0.1)
  assert.equal([...wide.keys()], [...plain.keys()])
  for (const [name, t] of plain) {
    const w = (wide.get(name)?.data ?? new Float32Array()) as Float32Array
    const p = t.data as Float32Array
    if (isBertQueryKey(name)) {
      assert.ok(p.every((v, i) => Math.abs(w[i] - 5 * v) <= 1e-7), name)
      assert.ok(rms(w) > 0.06 && rms(w) < 0.11, `${name}: rms ${rms(w)}`)
    } else assert.equal(w, p, name)
  }
})

test.run()
