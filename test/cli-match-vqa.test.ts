/** `cmga match` and `cmga vqa`: the CLI prints what the runtime API computes, and refuses bad input with one message. */
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import * as E from 'fp-ts/lib/Either.js'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { openRuntime, stage1 } from '../apps/cmga/runtime.js'
import { loadImages } from '../runtime/images/index.js'
import { cli, errorLine, tempDir } from './support/cli.js'
import { PICTURES, compileTinyModel, writeDataset } from './support/retrieval-data.js'

const root = tempDir('cmga-match-')
const model = compileTinyModel(join(root, 'model'))
let images: string[] = []
const texts = ['a red square', 'a blue circle', 'stripes']

const get = <A>(e: E.Either<{ message: string }, A>): A => {
  if (E.isLeft(e)) throw new Error(e.left.message)
  return e.right
}

test.before(async () => {
  const ds = await writeDataset(join(root, 'data'))
  images = PICTURES.slice(0, 2).map((p) => join(ds.images, p.name))
})

test('cmga match: every image against every text, the numbers the API gives', async () => {
  const out = join(root, 'match.json')
  const r = await cli('match', '--model', model, '--image', images[0], '--image', images[1], ...texts.flatMap((t) => ['--text', t]), '--out', out)
  assert.is(r.code, 0, errorLine(r))
  const { pairs } = JSON.parse(readFileSync(out, 'utf8'))
  assert.equal(pairs.map((p: { image: string; text: string }) => [p.image, p.text]), images.flatMap((i) => texts.map((t) => [i, t])))
  const rt = get(openRuntime(model))
  const px = get(await loadImages(images, rt.config.vision.imageSize, { onError: 'fail' })).pixels
  const tf = get(await rt.encodeTexts(texts)())
  const s = get(await rt.score(get(await rt.encodeImages(px)()), tf)())
  // the same pairs in the same order: joint-guidance rows are not bit-independent of their batch
  const m = get(await rt.match(px, tf, [0, 1].flatMap((i) => texts.map((_, j) => [i, j] as const)))())
  await rt.close()
  const p12 = pairs[1 * texts.length + 2]
  assert.equal([p12.global, p12.local, p12.stage1], [s.global[1 * s.texts + 2], s.local[1 * s.texts + 2], stage1(s, 1, 2)])
  assert.equal(pairs.map((p: { itm: unknown }) => p.itm), m)
  for (const p of pairs) assert.ok(p.itm.probability > 0 && p.itm.probability < 1 && Math.abs(p.itm.probability - 1 / (1 + Math.exp(-p.itm.logOdds))) < 1e-12)
})

test('cmga match: no --text, an unreadable image: one message each', async () => {
  const none = await cli('match', '--model', model, '--image', images[0])
  assert.is(none.code, 2)
  assert.match(errorLine(none), /give --text \(once or more\) or --texts-from/)
  const bad = join(root, 'bad.png')
  writeFileSync(bad, 'not an image')
  const unreadable = await cli('match', '--model', model, '--image', bad, '--text', 'x')
  assert.is(unreadable.code, 1)
  assert.match(errorLine(unreadable), /bad\.png/)
})

test('cmga vqa: the top answers by logit, named from --answers, with sigmoid scores', async () => {
  const rt = get(openRuntime(model))
  const A = rt.config.vqa?.numAnswers as number
  const px = get(await loadImages(images, rt.config.vision.imageSize, { onError: 'fail' })).pixels
  const questions = ['what colour is it', 'is it round']
  const logits = get(await rt.vqa(px, get(await rt.encodeTexts(questions)()))())
  await rt.close()
  const names = Array.from({ length: A }, (_, i) => `answer ${i}`)
  const answers = join(root, 'answers.json')
  writeFileSync(answers, JSON.stringify(names))
  const out = join(root, 'vqa.json')
  const r = await cli('vqa', '--model', model, '--image', images[0], '--question', questions[0], '--image', images[1], '--question', questions[1], '--answers', answers, '--top', '3', '--out', out)
  assert.is(r.code, 0, errorLine(r))
  const { pairs } = JSON.parse(readFileSync(out, 'utf8'))
  for (const [b, pair] of pairs.entries()) {
    const row = Array.from(logits.data.subarray(b * A, (b + 1) * A))
    const best = row.map((v, i) => [v, i]).sort((x, y) => y[0] - x[0] || x[1] - y[1]).slice(0, 3).map(([, i]) => i)
    assert.equal(pair.answers.map((a: { index: number }) => a.index), best)
    assert.equal(pair.answers.map((a: { answer: string }) => a.answer), best.map((i) => names[i]))
    for (const a of pair.answers) assert.ok(Math.abs(a.logit - row[a.index]) === 0 && Math.abs(a.score - 1 / (1 + Math.exp(-a.logit))) < 1e-12)
  }
  // a text file with one answer per line works the same
  const lines = join(root, 'answers.txt')
  writeFileSync(lines, names.join('\n') + '\n')
  const r2 = await cli('vqa', '--model', model, '--image', images[0], '--question', questions[0], '--answers', lines, '--top', '1')
  assert.is(r2.code, 0, errorLine(r2))
})

test('cmga vqa: unpaired questions, a wrong answer list: one message each', async () => {
  const unpaired = await cli('vqa', '--model', model, '--image', images[0], '--image', images[1], '--question', 'q')
  assert.is(unpaired.code, 2)
  assert.match(errorLine(unpaired), /2 --image but 1 --question/)
  const short = join(root, 'short.json')
  writeFileSync(short, JSON.stringify(['yes', 'no']))
  const wrong = await cli('vqa', '--model', model, '--image', images[0], '--question', 'q', '--answers', short)
  assert.is(wrong.code, 1)
  assert.match(errorLine(wrong), /short\.json has 2 answers but the model's VQA head has \d+/)
})

test('every new command has --help', async () => {
  for (const cmd of ['match', 'vqa']) {
    const r = await cli(cmd, '--help')
    assert.is(r.code, 0)
    assert.match(r.stdout.join('\n'), new RegExp(`Usage: cmga ${cmd}`))
  }
})

test.run()
