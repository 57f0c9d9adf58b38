import { copyFileSync, cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import * as E from 'fp-ts/lib/Either.js'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { readConfigFile } from '../apps/cmga/config-file.js'
import { compileModel } from '../apps/compile/compile.js'
import { randomWeights } from '../apps/compile/random-init.js'
import { readSafetensors } from '../runtime/safetensors/index.js'
import type { CliRun } from './support/cli.js'
import { cli, tempDir } from './support/cli.js'
import { compileTinyModel, writeDataset, writeVocab } from './support/retrieval-data.js'

const root = tempDir('cmga-bad-')
const model = compileTinyModel(join(root, 'model'))
let data: Awaited<ReturnType<typeof writeDataset>>
const index = join(root, 'index')

/** A failed run: non-zero exit and exactly one error line, which says `fragment`. */
const fails = (r: CliRun, fragment: string): void => {
  const errors = r.stderr.filter((l) => l.startsWith('cmga:'))
  assert.ok(r.code !== 0, `expected a failure, got exit 0 (${r.stderr.join(' | ')})`)
  assert.is(errors.length, 1, r.stderr.join('\n'))
  assert.ok(errors[0].includes(fragment), `"${errors[0]}" should say "${fragment}"`)
}

const absent = (...paths: string[]): void => {
  for (const p of paths) assert.not.ok(existsSync(p), `${p} should not exist`)
}

const corrupt = (path: string): void => writeFileSync(path, 'not an image at all')

test.before(async () => {
  data = await writeDataset(join(root, 'data'))
  const r = await cli('index', '--model', model, '--images', data.images, '--out', index, '--workers', '0')
  assert.is(r.code, 0, r.stderr.join('\n'))
})

test('cmga index: missing model, missing folder, empty folder, existing output', async () => {
  const out = join(root, 'out-a')
  fails(await cli('index', '--model', join(root, 'no-model'), '--images', data.images, '--out', out, '--workers', '0'), 'is not a compiled model directory')
  fails(await cli('index', '--model', model, '--images', join(root, 'no-images'), '--out', out, '--workers', '0'), 'no-images: no such folder')
  mkdirSync(join(root, 'empty'))
  writeFileSync(join(root, 'empty', 'readme.txt'), 'no pictures here')
  fails(await cli('index', '--model', model, '--images', join(root, 'empty'), '--out', out, '--workers', '0'), `no images in ${join(root, 'empty')}`)
  fails(await cli('index', '--model', model, '--images', data.images, '--out', index, '--workers', '0'), 'already exists')
  fails(await cli('index', '--model', model, '--out', out, '--workers', '0'), 'give --images FOLDER, --texts FILE, or both')
  absent(out, `${out}.partial`)
})

test('cmga index: a corrupt image fails the run by name (nothing written) or is skipped', async () => {
  const images = join(root, 'with-corrupt')
  cpSync(data.images, images, { recursive: true })
  corrupt(join(images, 'green-square.png'))
  const out = join(root, 'out-b')
  fails(await cli('index', '--model', model, '--images', images, '--out', out, '--workers', '0'), 'green-square.png: cannot decode image')
  absent(out, `${out}.partial`)
  const r = await cli('index', '--model', model, '--images', images, '--out', out, '--workers', '0', '--on-error', 'skip')
  assert.is(r.code, 0, r.stderr.join('\n'))
  assert.ok(r.stderr.some((l) => l.startsWith('skipped green-square.png')))
  const m = JSON.parse(readFileSync(join(out, 'index.json'), 'utf8'))
  assert.equal(m.images.skipped.map((s: { path: string }) => s.path), ['green-square.png'])
  assert.is(m.images.shards[0].count, 11)
})

test('cmga index: an interrupted build resumes from its last shard', async () => {
  const images = join(root, 'resume')
  cpSync(data.images, images, { recursive: true })
  const good = join(root, 'good.png')
  copyFileSync(join(images, 'red-circle.png'), good)
  corrupt(join(images, 'red-circle.png')) // the 7th image: in the second shard of 4
  const out = join(root, 'out-c')
  fails(await cli('index', '--model', model, '--images', images, '--out', out, '--workers', '0', '--shard-size', '4'), `kept in ${out}.partial; the same command resumes`)
  absent(out)
  assert.equal(readdirSync(`${out}.partial`).sort(), ['images-00000.safetensors', 'progress.json'])
  copyFileSync(good, join(images, 'red-circle.png'))
  const r = await cli('index', '--model', model, '--images', images, '--out', out, '--workers', '0', '--shard-size', '4')
  assert.is(r.code, 0, r.stderr.join('\n'))
  assert.ok(r.stderr.includes('resuming: 4 of 12 images already indexed'), r.stderr.join('\n'))
  absent(`${out}.partial`, join(out, 'progress.json'))
  // The resumed index holds what a build in one go holds.
  const fresh = join(root, 'out-d')
  assert.is((await cli('index', '--model', model, '--images', images, '--out', fresh, '--workers', '0', '--shard-size', '4')).code, 0)
  for (const shard of ['images-00000.safetensors', 'images-00001.safetensors', 'images-00002.safetensors']) {
    const [a, b] = [readSafetensors(join(out, shard)), readSafetensors(join(fresh, shard))]
    if (E.isLeft(a) || E.isLeft(b)) return assert.unreachable('unreadable shard')
    const tokens = (f: typeof a.right): number[] => Array.from((f.tensors.get('tokens')?.data ?? []) as Float32Array)
    assert.equal(tokens(a.right), tokens(b.right))
  }
})

test('cmga retrieve: missing index, index of another model, missing vocabulary, image query without texts', async () => {
  const out = join(root, 'hits.json')
  fails(await cli('retrieve', '--model', model, '--index', join(root, 'no-index'), '--query', 'a red square', '--out', out), 'no-index: no such index folder')
  const config = readConfigFile('test/fixtures/cmga-tiny/config.json')
  if (E.isLeft(config)) return assert.unreachable(config.left.message)
  const other = join(root, 'other-model')
  const c = compileModel({ config: config.right, weights: randomWeights(config.right, 7), weightsSource: 'random-init:7', weightsSummary: 'random', out: other })
  assert.ok(E.isRight(c))
  writeVocab(join(other, 'vocab.txt'))
  fails(await cli('retrieve', '--model', other, '--index', index, '--query', 'a red square', '--out', out), 'was built by another model')
  const noVocab = join(root, 'model-without-vocab')
  cpSync(model, noVocab, { recursive: true })
  rmSync(join(noVocab, 'vocab.txt'))
  fails(await cli('retrieve', '--model', noVocab, '--index', index, '--query', 'a red square', '--out', out), `no vocabulary in ${noVocab}`)
  fails(await cli('retrieve', '--model', model, '--index', index, '--image', join(data.images, 'red-square.png'), '--out', out), 'holds no texts')
  fails(await cli('retrieve', '--model', model, '--index', index, '--query', 'x', '--image', 'y.png'), 'exactly one of --query TEXT or --image FILE')
  fails(await cli('retrieve', '--model', model, '--index', index, '--query', 'x', '--rerank', '-1'), 'cmga retrieve: --rerank takes a value; one that starts with a dash is written --rerank=VALUE')
  fails(await cli('retrieve', '--model', model, '--index', index, '--query', 'x', '--rerank=-1'), '--k must be an integer in [0, ')
  absent(out)
})

test('cmga eval retrieval: missing files, annotation files of the wrong shape, a corrupt image', async () => {
  const out = join(root, 'eval.json')
  const run = (annotations: string, images = data.images, ...more: string[]): Promise<CliRun> =>
    cli('eval', 'retrieval', '--model', model, '--annotations', annotations, '--images', images, '--workers', '0', '--out', out, ...more)
  fails(await run(join(root, 'absent.json')), 'absent.json: no such file')
  const write = (name: string, content: string): string => {
    writeFileSync(join(root, name), content)
    return join(root, name)
  }
  fails(await run(write('not-json.json', '{"images": [')), 'not valid JSON')
  fails(await run(write('object.json', '{"annotations": []}')), "expected ALBEF's retrieval format")
  fails(await run(write('no-caption.json', '[{"image": "red-square.png"}]')), '[0].caption is wrong or missing')
  fails(await run(write('bad-sentences.json', '{"images": [{"filename": "a.png", "split": "test", "sentences": ["a cat"]}]}')), 'images[0].sentences[0] is wrong or missing')
  fails(await run(data.karpathy, data.images, '--split', 'val'), 'no image has split "val" (splits here: test, train)')
  fails(await run(data.albef, join(root, 'nowhere')), '12 of 12 images are missing under')
  const images = join(root, 'eval-corrupt')
  cpSync(data.images, images, { recursive: true })
  corrupt(join(images, 'blue-stripe.png'))
  fails(await run(data.albef, images), 'blue-stripe.png: cannot decode image')
  absent(out)
  const r = await run(data.albef, images, '--on-error', 'skip', '--k', '2')
  assert.is(r.code, 0, r.stderr.join('\n'))
  const report = JSON.parse(readFileSync(out, 'utf8'))
  assert.equal([report.images, report.texts, report.skipped.map((s: { path: string }) => s.path)], [11, 22, ['blue-stripe.png']])
})

test.after(() => rmSync(root, { recursive: true, force: true }))

test.run()
