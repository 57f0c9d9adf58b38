/**
 * `cmga explain` on the compiled tiny fixture model: the kept positions in the JSON
 * equal those derived from `cmga infer`'s keep.* outputs on the same preprocessed
 * image and tokens, the scores match, the similarity matrix gives back the local
 * score, and the PNG decodes with the expected size. Bad input: one message each.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import * as E from 'fp-ts/lib/Either.js'
import sharp from 'sharp'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import type { HostTensor } from '../compiler/ir/tensor.js'
import { toNumbers } from '../compiler/ir/tensor.js'
import { loadImage } from '../runtime/images/index.js'
import type { ExplanationJson } from '../apps/explain/index.js'
import { explainPair, pictureLayout } from '../apps/explain/index.js'
import { loadCmgaModel } from '../apps/cmga/model.js'
import { readSafetensors, writeSafetensorsAtomic } from '../runtime/safetensors/index.js'
import { loadTokenizer } from '../runtime/text/index.js'
import { cli, errorLine, tempDir } from './support/cli.js'

const fixture = fileURLToPath(new URL('./fixtures/cmga-tiny/', import.meta.url))
const vocab = fileURLToPath(new URL('../models/cmga/demo/vocab.txt', import.meta.url))
const dir = tempDir('cmga-explain-')
const model = join(dir, 'model')
const image = join(dir, 'image.png')
const text = 'two dogs sitting on the grass, looking at a red ball'
const [png, json] = [join(dir, 'explain.png'), join(dir, 'explain.json')]
const right = <A>(r: E.Either<{ message: string }, A>): A => {
  if (E.isLeft(r)) throw new Error(r.left.message)
  return r.right
}

/** The kept patches per layer, from keep indices alone: candidates are [kept..., fused] after each layer. */
const keptFromInfer = (keeps: number[][], patches: number): number[][] => {
  let covers = Array.from({ length: patches }, (_, p) => [p])
  return keeps.map((keep) => {
    const kept = keep.map((i) => covers[i])
    const fused = covers.filter((_, i) => !keep.includes(i)).flat()
    covers = [...kept, fused]
    return kept.flat().sort((a, b) => a - b)
  })
}

const it = suite('cmga explain on the compiled tiny model')

it.before(async () => {
  const c = await cli('compile', '--config', join(fixture, 'config.json'), '--weights', join(fixture, 'weights.safetensors'), '--out', model)
  assert.is(c.code, 0, c.stderr.join('\n'))
  // A 40 x 48 image of smooth colour ramps: not square, so preprocessing resizes it.
  const raw = Buffer.alloc(40 * 48 * 3)
  for (let i = 0; i < 40 * 48; i++) raw.set([(i * 7) % 256, Math.floor(i / 48) * 6, 255 - ((i % 48) * 5)], i * 3)
  await sharp(raw, { raw: { width: 48, height: 40, channels: 3 } }).png().toFile(image)
})

it('writes the picture and the JSON; kept positions match cmga infer', async () => {
  const r = await cli('explain', '--model', model, '--image', image, '--text', text, '--vocab', vocab, '--out', png, '--json', json)
  assert.is(r.code, 0, r.stderr.join('\n'))
  const doc = JSON.parse(readFileSync(json, 'utf8')) as ExplanationJson
  assert.is(doc.format, 'cmga-explain')

  // The same pair through cmga infer.
  const tok = right(loadTokenizer(vocab, { maxLength: 32 }))
  const enc = tok.encode([text])
  const px = right(await loadImage(image, 32))
  const inputs = join(dir, 'inputs.safetensors')
  right(writeSafetensorsAtomic(inputs, { pixels: { ...px, shape: [1, ...px.shape] }, input_ids: enc.ids, attention_mask: enc.mask }))
  const outputs = join(dir, 'outputs.safetensors')
  const inf = await cli('infer', '--model', model, '--inputs', inputs, '--out', outputs)
  assert.is(inf.code, 0, inf.stderr.join('\n'))
  const out = right(readSafetensors(outputs)).tensors
  const get = (name: string): number[] => Array.from(toNumbers(out.get(name) as HostTensor))

  for (const mode of ['image', 'joint'] as const) {
    const want = keptFromInfer([get(`keep.${mode}.1`), get(`keep.${mode}.2`)], 16)
    assert.equal(doc.guidance[mode].map((l) => l.layer), [1, 2])
    assert.equal(doc.guidance[mode].map((l) => l.keptPatches), want, `${mode} guidance`)
    for (const l of doc.guidance[mode]) {
      const covered = [...l.keptTokens, l.fused].flatMap((t) => t.patches).sort((a, b) => a - b)
      assert.equal(covered, Array.from({ length: 16 }, (_, p) => p), `${mode} layer ${l.layer}: every patch covered once`)
    }
  }
  // With this image and text, both modes keep layer 1's fused token at layer 2: the case where a
  // kept token covers several patches.
  for (const mode of ['image', 'joint'] as const) assert.ok(doc.guidance[mode][1].keptTokens.some((t) => t.patches.length > 1), mode)
  const itm = get('itm_logits')
  assert.ok(Math.abs(doc.scores.global - get('score_global')[0]) < 1e-6)
  assert.ok(Math.abs(doc.scores.local - get('score_local')[0]) < 1e-6)
  assert.ok(Math.abs(doc.scores.itmMatch - 1 / (1 + Math.exp(itm[0] - itm[1]))) < 1e-6)

  // The similarity matrix is spec 7's S: t2i and i2t from it give back score_local.
  const S = doc.similarity.values
  assert.equal(doc.similarity.tokens, [...enc.tokens[0].slice(1)])
  assert.is(doc.similarity.visualTokens.length, 11) // 10 kept + the fused token
  const t2i = S.reduce((a, row) => a + Math.max(...row), 0) / S.length
  const i2t = S[0].reduce((a, _, k) => a + Math.max(...S.map((row) => row[k])), 0) / S[0].length
  assert.ok(Math.abs((t2i + i2t) / 2 - doc.scores.local) < 1e-5, `local score from S: ${(t2i + i2t) / 2} vs ${doc.scores.local}`)

  // The PNG: 4 columns of 160 px panels (32 px at 5x), 12 px margins, 10 px gaps.
  const meta = await sharp(png).metadata()
  assert.is(meta.format, 'png')
  assert.is(meta.width, 2 * 12 + 4 * 160 + 3 * 10)
  const layout = pictureLayout({ imageSize: 32, image: doc.guidance.image as never, words: doc.similarity.tokens })
  assert.equal([meta.width, meta.height], [layout.width, layout.height])
})

it('explainPair rejects input that does not fit the model, as a value', async () => {
  const m = right(loadCmgaModel(model))
  const enc = right(loadTokenizer(vocab, { maxLength: 32 })).encode(['a dog'])
  const pixels = { dtype: 'float32' as const, shape: [1, 3, 16, 16], data: new Float32Array(3 * 16 * 16) }
  const r = await explainPair(m, { pixels, ids: enc.ids, mask: enc.mask, tokens: enc.tokens[0] })()
  assert.ok(E.isLeft(r) && r.left.kind === 'input' && /pixels.*\[B, 3, 32, 32\]/.test(r.left.message), JSON.stringify(r))
})

it('--help describes the command', async () => {
  const r = await cli('explain', '--help')
  assert.is(r.code, 0)
  assert.match(r.stdout.join('\n'), /Usage: cmga explain --model DIR --image IMAGE --text/)
})

/** One message, a non-zero exit, nothing written. */
const fails = async (args: string[], pattern: RegExp, code = 1): Promise<void> => {
  const out = join(dir, `bad-${Math.random().toString(36).slice(2)}.png`)
  const r = await cli('explain', ...args, '--out', out)
  assert.is(r.code, code, r.stderr.join('\n'))
  assert.is(r.stderr.filter((l) => l.startsWith('cmga:')).length, 1)
  assert.match(errorLine(r), pattern)
  assert.not.ok(existsSync(out))
}

it('bad input: one clear message each, nothing written', async () => {
  const corrupt = join(dir, 'corrupt.png')
  writeFileSync(corrupt, readFileSync(image).subarray(0, 60))
  const base = ['--text', text, '--vocab', vocab]
  await fails(['--model', model, '--image', join(dir, 'missing.png'), ...base], /missing\.png: no such file/)
  await fails(['--model', model, '--image', corrupt, ...base], /format error: .*corrupt\.png: cannot decode image/)
  await fails(['--model', dir, '--image', image, ...base], /is not a compiled model directory/)
  await fails(['--model', model, '--image', image, '--text', text], /no vocabulary in .*model.*; pass --vocab/)
  await fails(['--model', model, '--image', image, '--text', text, '--vocab', join(dir, 'nope.txt')], /vocabulary .*nope\.txt: no such file/)
  await fails(['--model', model, '--image', image, ...base, '--json', join(dir, 'no', 'dir.json')], /cannot write .*dir\.json: directory .* does not exist/)
  await fails(['--model', model, '--image', image], /--text is required/, 2)
})

it.run()
