/**
 * `cmga eval contrasts`: the contrast captions of a shapes-world caption, and the counts
 * and percentages the command reports, checked by hand through the API on the shipped
 * model.
 */
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import * as E from 'fp-ts/lib/Either.js'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { confusionOf, contrastsOf } from '../apps/data/contrasts.js'
import { confusions } from '../apps/retrieval/confusions.js'
import { openRuntime, stage1 } from '../apps/cmga/runtime.js'
import { loadImages } from '../runtime/images/index.js'
import { cli, errorLine, tempDir } from './support/cli.js'

const get = <A>(e: E.Either<{ message: string }, A>): A => {
  if (E.isLeft(e)) throw new Error(e.left.message)
  return e.right
}

test('contrastsOf: the relation turned on its axis, the colours swapped, the first shape changed; other text has none', () => {
  assert.equal(contrastsOf('a red circle left of a blue square'), [
    { kind: 'relation (left/right)', caption: 'a red circle right of a blue square' },
    { kind: 'colours swapped', caption: 'a blue circle left of a red square' },
    { kind: 'shape changed', caption: 'a red square left of a blue square' }
  ])
  assert.equal(contrastsOf('A green triangle  below a white triangle')?.map((c) => c.caption), ['a green triangle above a white triangle', 'a white triangle below a green triangle', 'a green circle below a white triangle'])
  assert.is(contrastsOf('a green triangle below a white triangle')?.[0].kind, 'relation (above/below)')
  assert.is(contrastsOf('a dog on a sofa'), undefined)
  assert.is(contrastsOf('a pink circle left of a blue square'), undefined)
})

test('confusionOf: same meaning, relation reversed, the other axis, other objects; other text has none', () => {
  const q = 'a red circle left of a blue square'
  assert.is(confusionOf(q, 'a blue square right of a red circle'), 'same meaning')
  assert.is(confusionOf(q, q), 'same meaning')
  assert.is(confusionOf(q, 'a red circle right of a blue square'), 'relation reversed')
  assert.is(confusionOf(q, 'a blue square left of a red circle'), 'relation reversed')
  assert.is(confusionOf(q, 'a red circle above a blue square'), 'relation on the other axis')
  assert.is(confusionOf(q, 'a blue square below a red circle'), 'relation on the other axis')
  assert.is(confusionOf(q, 'a blue circle left of a red square'), 'other objects')
  assert.is(confusionOf(q, 'a red circle left of a blue triangle'), 'other objects')
  assert.is(confusionOf(q, 'a dog on a sofa'), undefined)
})

test('confusions: per kind, the candidates of the top k beside the true image and how often each score puts them above it', () => {
  const texts = ['a red circle left of a blue square', 'a red circle above a blue square']
  const captions = ['a red circle left of a blue square', 'a red circle right of a blue square', 'a red circle above a blue square', 'a green circle left of a blue square']
  const m = (logOdds: number) => ({ logOdds, probability: 1 / (1 + Math.exp(-logOdds)) })
  // text 0 (image 0): image 1 above it by stage 1, below by ITM; image 2 below by both; image 3 below stage 1's k
  // text 1 (image 2): its image is not in the top 3, so it counts nothing
  const t2i = [[{ index: 1, score: 0.9 }, { index: 0, score: 0.8 }, { index: 2, score: 0.7 }, { index: 3, score: 0.1 }], [{ index: 0, score: 0.9 }, { index: 1, score: 0.8 }, { index: 3, score: 0.5 }, { index: 2, score: 0.1 }]]
  const matches = [[m(-1), m(2), m(3)], [m(0), m(0), m(0)]]
  const c = confusions(texts, [0, 2], (i) => captions[i], t2i, matches, 3)
  assert.equal(c?.['relation reversed'], { candidates: 1, stage1: 100, itm: 0 })
  assert.equal(c?.['relation on the other axis'], { candidates: 1, stage1: 0, itm: 100 })
  assert.equal(c?.['other objects'], { candidates: 0, stage1: 0, itm: 0 })
  assert.is(confusions(['a dog'], [0], () => 'a cat', [[{ index: 0, score: 1 }, { index: 1, score: 0 }]], [[m(0), m(0)]], 2), undefined)
})

test('cmga eval contrasts: pairs per kind, wins by stage 1 and ITM equal to the API; the shipped model tells shapes apart', async () => {
  const root = tempDir('cmga-contrasts-')
  const data = join(root, 'set')
  assert.is((await cli('data', 'shapes', '--out', data, '--count', '16', '--seed', '11')).code, 0)
  const annotations = JSON.parse(readFileSync(join(data, 'annotations.json'), 'utf8'))
  // one image whose caption is not a shapes-world one is left out
  writeFileSync(join(data, 'mixed.json'), JSON.stringify([...annotations, { image: annotations[0].image, caption: ['two shapes on grey'] }]))
  const model = join(root, 'model')
  const shipped = 'models/cmga/shapes'
  const c = await cli('compile', '--config', `${shipped}/config.json`, '--weights', `${shipped}/weights.safetensors`, '--vocab', `${shipped}/vocab.txt`, '--out', model)
  assert.is(c.code, 0, c.stderr.join('\n'))
  const out = join(root, 'contrasts.json')
  const r = await cli('eval', 'contrasts', '--model', model, '--annotations', join(data, 'mixed.json'), '--images', data, '--out', out)
  assert.is(r.code, 0, r.stderr.join('\n'))
  const rep = JSON.parse(readFileSync(out, 'utf8'))
  assert.equal([rep.images, rep.leftOut, rep.guidance], [16, 1, 'joint'])
  const captions: string[] = annotations.map((x: { caption: string[] }) => x.caption[0])
  const horizontal = captions.filter((x) => /left|right/.test(x)).length
  assert.equal(Object.values(rep.kinds).map((k) => (k as { pairs: number }).pairs), [horizontal, 16 - horizontal, 16, 16])
  // by hand: each image against its caption and its contrasts
  const rt = get(openRuntime(model, { workers: 0 }))
  const px = get(await loadImages(annotations.map((x: { image: string }) => join(data, x.image)), 32, { onError: 'fail' }))
  const texts = captions.flatMap((x) => [x, ...(contrastsOf(x) ?? []).map((k) => k.caption)])
  const tf = get(await rt.encodeTexts(texts)())
  const s = get(await rt.score(get(await rt.encodeImages(px.pixels)()), tf)())
  const m = get(await rt.match(px.pixels, tf, texts.map((_, t) => [Math.floor(t / 4), t] as const))())
  await rt.close()
  const byKind = new Map<string, [number, number, number]>()
  captions.forEach((x, i) => (contrastsOf(x) ?? []).forEach((k, n) => {
    const w = byKind.get(k.kind) ?? [0, 0, 0]
    byKind.set(k.kind, [w[0] + 1, w[1] + (stage1(s, i, 4 * i) > stage1(s, i, 4 * i + 1 + n) ? 1 : 0), w[2] + (m[4 * i].logOdds > m[4 * i + 1 + n].logOdds ? 1 : 0)])
  }))
  for (const [kind, [n, s1, itm]] of byKind) {
    assert.ok(Math.abs(rep.kinds[kind].stage1 - (100 * s1) / n) < 1e-9 && Math.abs(rep.kinds[kind].itm - (100 * itm) / n) < 1e-9, kind)
  }
  // eval retrieval --confusions: every other candidate of a text -> image top 4 that holds its image, by kind
  const conf = join(root, 'confusions.json')
  assert.is((await cli('eval', 'retrieval', '--model', model, '--annotations', join(data, 'annotations.json'), '--images', data, '--k', '4', '--confusions', '--out', conf)).code, 0)
  const cr = JSON.parse(readFileSync(conf, 'utf8'))
  const seen = Object.values(cr.confusions).reduce((n: number, k) => n + (k as { candidates: number }).candidates, 0)
  assert.ok(seen > 0 && seen % 3 === 0 && seen <= 3 * 16, `${seen} candidates`)
  assert.ok(seen / 3 >= (cr.stage1.img_r1 * 16) / 100, 'every query whose image ranks first holds its image in the top 4')
  // the shipped model: 99.8% of 500 held-out images against a changed shape by stage 1
  assert.ok(rep.kinds['shape changed'].stage1 >= 75, `shape changed: ${rep.kinds['shape changed'].stage1}`)
  // nothing to contrast: one clear error
  writeFileSync(join(data, 'none.json'), JSON.stringify([{ image: annotations[0].image, caption: ['two shapes on grey'] }]))
  const none = await cli('eval', 'contrasts', '--model', model, '--annotations', join(data, 'none.json'), '--images', data)
  assert.is(none.code, 1)
  assert.match(errorLine(none), /no image has a shapes-world caption/)
})

test.run()
