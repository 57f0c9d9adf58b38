/**
 * The Lance store: the same images indexed into safetensors and Lance give the same
 * ranked lists and scores; an interrupted Lance build resumes; another model is
 * refused; --shard parts merged equal a one-machine index; the CLI's errors.
 */
import { execFileSync } from 'node:child_process'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import * as E from 'fp-ts/lib/Either.js'
import * as TE from 'fp-ts/lib/TaskEither.js'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import type { Runtime } from '../apps/cmga/runtime.js'
import { openRuntime } from '../apps/cmga/runtime.js'
import { buildIndex, openIndex } from '../apps/retrieval/gallery.js'
import type { RetrieveOptions } from '../apps/retrieval/retrieve.js'
import { defaultRetrieveOptions, retrieveImages, retrieveTexts } from '../apps/retrieval/retrieve.js'
import { cli, errorLine, tempDir } from './support/cli.js'
import { PICTURES, compileTinyModel, writeDataset } from './support/retrieval-data.js'

const root = tempDir('cmga-lance-')
const model = compileTinyModel(join(root, 'model'))
let ds: Awaited<ReturnType<typeof writeDataset>>
const textsFile = join(root, 'texts.json')
writeFileSync(textsFile, JSON.stringify(PICTURES.map((p) => p.captions[0])))
const [st, lance] = [join(root, 'st'), join(root, 'lance')]

const get = <A>(e: E.Either<{ message: string }, A>): A => {
  if (E.isLeft(e)) throw new Error(e.left.message)
  return e.right
}

const ok = async (...args: string[]): Promise<string[]> => {
  const r = await cli(...args)
  assert.is(r.code, 0, errorLine(r))
  return r.stderr
}

const fails = async (fragment: string, ...args: string[]): Promise<void> => {
  const r = await cli(...args)
  assert.ok(r.code !== 0, `expected a failure: ${args.join(' ')}`)
  assert.ok(errorLine(r).includes(fragment), `"${errorLine(r)}" should say "${fragment}"`)
}

const runtime = (): Runtime => get(openRuntime(model, { workers: 0 }))

const QUERIES = ['a red square on black', 'the dark blue circle', 'green stripes', 'a yellow picture']
const OPTIONS: RetrieveOptions[] = [
  { ...defaultRetrieveOptions, top: 12, candidates: 12, rerank: 0 },
  { ...defaultRetrieveOptions, top: 6, candidates: 5, rerank: 3 },
  { ...defaultRetrieveOptions, top: 3, candidates: 1, rerank: 0 }
]

/** Every query's hits under every option set, as JSON. */
const hitsOf = async (rt: Runtime, path: string): Promise<unknown[]> => {
  const g = get(await openIndex(path, rt)())
  const out: unknown[] = []
  for (const o of OPTIONS) for (const q of QUERIES) out.push(JSON.parse(JSON.stringify(get(await retrieveImages(rt, g, q, o)()).hits)))
  await g.close()
  return out
}

test.before(async () => {
  ds = await writeDataset(join(root, 'data'))
  await ok('index', '--model', model, '--images', ds.images, '--texts', textsFile, '--out', st, '--workers', '0', '--shard-size', '5')
  await ok('index', '--model', model, '--images', ds.images, '--texts', textsFile, '--out', lance, '--store', 'lance', '--workers', '0', '--shard-size', '5')
})

test('exact search through Lance: the same hits, order and scores as the safetensors index', async () => {
  assert.ok(existsSync(join(lance, 'images.lance')) && !existsSync(join(lance, 'index.json')))
  const rt = runtime()
  const [a, b] = [await hitsOf(rt, st), await hitsOf(rt, lance)]
  assert.is(a.length, QUERIES.length * OPTIONS.length)
  assert.equal(b, a)
  // image to text reads the texts table
  const [gs, gl] = [get(await openIndex(st, rt)()), get(await openIndex(lance, rt)())]
  const img = join(ds.images, 'blue-circle.png')
  const o = { ...defaultRetrieveOptions, top: 5, rerank: 2 }
  assert.equal(get(await retrieveTexts(rt, gl, img, o)()).hits, get(await retrieveTexts(rt, gs, img, o)()).hits)
  await Promise.all([gs.close(), gl.close()])
  await rt.close()
  // and through the CLI
  const out = join(root, 'hits.json')
  await ok('retrieve', '--model', model, '--index', lance, '--query', QUERIES[0], '--top', '12', '--candidates', '12', '--k', '0', '--workers', '0', '--out', out)
  assert.equal(JSON.parse(readFileSync(out, 'utf8')).hits, a[0])
})

test('eval retrieval --index reads the features from either store: the recalls of encoding them', async () => {
  const run = async (...extra: string[]): Promise<unknown> => {
    const out = join(root, `eval-${extra.length}-${Math.random()}.json`)
    await ok('eval', 'retrieval', '--model', model, '--annotations', ds.albef, '--images', ds.images, '--k', '0', '--workers', '0', '--out', out, ...extra)
    const r = JSON.parse(readFileSync(out, 'utf8'))
    return r.stage1
  }
  const encoded = await run()
  assert.equal(await run('--index', lance), encoded)
  assert.equal(await run('--index', st), encoded)
})

test('an interrupted Lance build resumes to the same index; another model is refused', async () => {
  const out = join(root, 'resumed')
  const rt = runtime()
  let calls = 0
  const flaky: Runtime = { ...rt, encodeImages: (px) => (++calls === 2 ? TE.left({ kind: 'runtime', message: 'killed' }) : rt.encodeImages(px)) }
  const first = await buildIndex({ runtime: flaky, images: ds.images, out, onError: 'fail', store: 'lance', shardSize: 5 })()
  assert.ok(E.isLeft(first) && first.left.message.includes('kept in') && existsSync(`${out}.partial`))
  const other: Runtime = { ...rt, identity: { ...rt.identity, fingerprint: 'another-model' } }
  const refused = await buildIndex({ runtime: other, images: ds.images, out, onError: 'fail', store: 'lance', shardSize: 5 })()
  assert.ok(E.isLeft(refused) && refused.left.message.includes('another model'), JSON.stringify(refused))
  const logs: string[] = []
  get(await buildIndex({ runtime: rt, images: ds.images, out, onError: 'fail', store: 'lance', shardSize: 5, log: (l) => logs.push(l) })())
  assert.equal(logs, ['resuming: 5 of 12 images already indexed'])
  assert.ok(!existsSync(`${out}.partial`))
  const [a, b] = [await hitsOf(rt, lance), await hitsOf(rt, out)]
  assert.equal(b.map((h) => JSON.stringify(h)), a.map((h) => JSON.stringify(h)))
  const opened = await openIndex(out, other)()
  assert.ok(E.isLeft(opened) && opened.left.message.includes('was built by another model'))
  await rt.close()
})

test('--shard I/N parts merged: the one-machine index, row for row', async () => {
  // Images encoded one at a time here and there: features do not depend on batch company.
  const one = join(root, 'one-machine')
  await ok('index', '--model', model, '--images', ds.images, '--texts', textsFile, '--out', one, '--store', 'lance', '--workers', '0', '--shard-size', '1')
  const parts = [1, 2, 3].map((i) => join(root, `part-${i}`))
  for (const [k, p] of parts.entries()) {
    const store = k === 1 ? 'safetensors' : 'lance' // a part may be either store
    await ok('index', '--model', model, '--images', ds.images, '--texts', textsFile, '--out', p, '--store', store, '--shard', `${k + 1}/3`, '--workers', '0', '--shard-size', '1')
  }
  const rt = runtime()
  const alien = join(root, 'part-2-other-model')
  const other: Runtime = { ...rt, identity: { ...rt.identity, fingerprint: 'another-model' } }
  get(await buildIndex({ runtime: other, images: ds.images, out: alien, onError: 'fail', store: 'lance', shard: { index: 1, count: 3 } })())
  await fails('was built by another model', 'index', 'merge', '--part', parts[0], '--part', alien, '--part', parts[2], '--out', join(root, 'never'))
  await fails('is part 1/3 of a gallery built with --shard', 'retrieve', '--model', model, '--index', parts[0], '--query', 'x', '--workers', '0')
  await fails('parts 2/3 are missing', 'index', 'merge', '--part', parts[0], '--part', parts[2], '--out', join(root, 'never'))
  await fails('parts must not overlap', 'index', 'merge', '--part', lance, '--part', st, '--out', join(root, 'never'))
  assert.not.ok(existsSync(join(root, 'never')) || existsSync(join(root, 'never.partial')))
  const merged = join(root, 'merged')
  const log = await ok('index', 'merge', '--part', parts[2], '--part', parts[0], '--part', parts[1], '--out', merged)
  assert.ok(log.includes('merged 3 parts: 12 images, 12 texts'), log.join('\n'))
  assert.equal(await hitsOf(rt, merged), await hitsOf(rt, one))
  // one part: a safetensors index converted, by the executable (an ES module, where
  // apache-arrow would load twice were lance.ts not to take LanceDB's copy)
  const converted = join(root, 'converted')
  execFileSync(process.execPath, ['bin/cmga.mjs', 'index', 'merge', '--part', st, '--out', converted], { stdio: 'pipe' })
  assert.equal(await hitsOf(rt, converted), await hitsOf(rt, st))
  await rt.close()
})

test('cmga index and merge: clear usage errors', async () => {
  const base = ['index', '--model', model, '--images', ds.images, '--out', join(root, 'x')]
  for (const bad of ['3/2', '0/0', '0/2', '1/0', '2', 'a/b']) await fails('--shard must be I/N with 1 <= I <= N', ...base, '--shard', bad)
  await fails('--store must be one of safetensors, lance, got "faiss"', ...base, '--store', 'faiss')
  await fails('--ann needs --store lance', ...base, '--ann')
  await fails('--ann-partitions needs --ann', ...base, '--store', 'lance', '--ann-partitions', '4')
  await fails('--ann needs at least 256 images', ...base, '--store', 'lance', '--ann', '--workers', '0')
  await fails('--exact takes no --nprobes', 'retrieve', '--model', model, '--index', lance, '--query', 'x', '--exact', '--nprobes', '3')
  await fails('has no ANN index', 'retrieve', '--model', model, '--index', lance, '--query', 'x', '--nprobes', '3', '--workers', '0')
  await fails('--part is required', 'index', 'merge', '--out', join(root, 'y'))
  await fails('already exists', 'index', 'merge', '--part', lance, '--out', st)
})

test.run()
