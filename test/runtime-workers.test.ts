import { readFileSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import * as E from 'fp-ts/lib/Either.js'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import type { HostTensor } from '../compiler/ir/tensor.js'
import { localEngine } from '../runtime/model/engine.js'
import type { Candidate } from '../apps/cmga/rank.js'
import { byScore } from '../apps/cmga/rank.js'
import { concatRows, sliceRows } from '../runtime/model/rows.js'
import type { Runtime } from '../apps/cmga/runtime.js'
import { MERGEABLE_STAGES, openRuntime, stage1 } from '../apps/cmga/runtime.js'
import { loadImages } from '../runtime/images/index.js'
import { openIndex } from '../apps/retrieval/gallery.js'
import { defaultRetrieveOptions, retrieveImages } from '../apps/retrieval/retrieve.js'
import type { PoolEngine } from '../runtime/workers/pool.js'
import { cli, errorLine, tempDir } from './support/cli.js'
import { PICTURES, compileTinyModel, writeDataset } from './support/retrieval-data.js'

const root = tempDir('cmga-workers-')
const model = compileTinyModel(join(root, 'model'))
let images = ''

const get = <A>(e: E.Either<{ message: string }, A>): A => {
  if (E.isLeft(e)) throw new Error(e.left.message)
  return e.right
}

const bits = (t: HostTensor): number[] => Array.from(t.data as ArrayLike<number | bigint>, Number)

test.before(async () => {
  images = (await writeDataset(join(root, 'data'))).images
})

test('the stages the pool merges compute each row independently of the batch, bit for bit', async () => {
  const rt = get(openRuntime(model, { workers: 0 }))
  const eng = get(localEngine(model))
  const tf = get(await rt.encodeTexts(PICTURES.flatMap((p) => p.captions).slice(0, 7))())
  const px = get(await loadImages(PICTURES.slice(0, 7).map((p) => join(images, p.name)), 32, { onError: 'fail' }))
  const joint = get(await eng.run('vision_joint', { pixels: px.pixels, text_cls: tf.cls })())
  const feeds: Record<string, Record<string, HostTensor>> = {
    text: { input_ids: tf.ids, attention_mask: tf.mask },
    relation: { text_embeds: tf.embeds, attention_mask: tf.mask, vision_embeds: joint.vision_embeds }
  }
  assert.equal([...MERGEABLE_STAGES].sort(), Object.keys(feeds).sort())
  for (const stage of MERGEABLE_STAGES) {
    const f = feeds[stage]
    const whole = get(await eng.run(stage, f)())
    // Rows alone, and rows at other positions of differently sized batches.
    for (const [from, to] of [[0, 1], [3, 4], [6, 7], [2, 5], [1, 7]]) {
      const part = get(await eng.run(stage, Object.fromEntries(Object.entries(f).map(([k, t]) => [k, sliceRows(t, from, to)])))())
      for (const k of Object.keys(whole)) assert.equal(bits(part[k]), bits(sliceRows(whole[k], from, to)), `${stage}.${k} rows ${from}..${to}`)
    }
    const doubled = get(await eng.run(stage, Object.fromEntries(Object.entries(f).map(([k, t]) => [k, concatRows([sliceRows(t, 4, 7), t])])))())
    for (const k of Object.keys(whole)) assert.equal(bits(sliceRows(doubled[k], 3, 10)), bits(whole[k]), `${stage}.${k} shifted`)
  }
  await rt.close()
})

test('concurrent callers on worker threads get exactly the serial results (score, rerank, retrieve)', async () => {
  const serial = get(openRuntime(model, { workers: 0 }))
  const pooled = get(openRuntime(model, { workers: 2 }))
  const texts = PICTURES.map((p) => p.captions[1])
  const px = get(await loadImages(PICTURES.map((p) => join(images, p.name)), 32, { onError: 'fail' })).pixels

  // One job list, run serially on this thread, then all at once on the pool.
  const jobs = (rt: Runtime): (() => Promise<unknown>)[] => {
    const scoreJob = (is: number[], ts: string[]) => async () => {
      const f = get(await rt.encodeImages(concatRows(is.map((i) => sliceRows(px, i, i + 1))))())
      const s = get(await rt.score(f, get(await rt.encodeTexts(ts)()))())
      return [Array.from(s.global), Array.from(s.local)]
    }
    const rerankJob = (q: number, rule: 'itm' | 'combined') => async () => {
      const tf = get(await rt.encodeTexts([texts[q]])())
      const s = get(await rt.score(get(await rt.encodeImages(px)()), tf)())
      const cands: Candidate[] = byScore(Array.from({ length: s.images }, (_, i) => ({ index: i, score: stage1(s, i, 0) })))
      return get(await rt.rerank({ pixels: px, texts: tf, queries: [{ text: 0, candidates: cands }], k: 5, rule: rule === 'itm' ? { kind: 'itm' } : { kind: 'combined', weight: 0.1 } })())
    }
    const textJob = (t: string) => async () => bits(get(await rt.encodeTexts([t])()).global)
    return [
      scoreJob([0, 1, 2], texts.slice(0, 5)), rerankJob(0, 'itm'), textJob(texts[3]), rerankJob(5, 'combined'), textJob(texts[4]),
      scoreJob([7, 3], texts.slice(2, 4)), textJob(texts[5]), rerankJob(9, 'itm'), textJob(texts[6]), scoreJob([11, 10, 9, 8], texts)
    ]
  }
  const expected: unknown[] = []
  for (const j of jobs(serial)) expected.push(await j())
  const concurrent = await Promise.all(jobs(pooled).map((j) => j()))
  assert.equal(concurrent, expected)
  const stats = (pooled.engine as PoolEngine).stats()
  assert.ok(stats.runs < stats.requests, `requests were batched (${stats.runs} runs for ${stats.requests} requests)`)

  // The CLI with worker threads, the API on this thread: the same retrieval.
  const index = join(root, 'index')
  const cliRun = await cli('index', '--model', model, '--images', images, '--out', index, '--workers', '1')
  assert.is(cliRun.code, 0, errorLine(cliRun))
  const out = join(root, 'hits.json')
  const r = await cli('retrieve', '--model', model, '--index', index, '--query', texts[2], '--candidates', '10', '--rerank', '6', '--workers', '1', '--out', out)
  assert.is(r.code, 0, errorLine(r))
  const api = get(await retrieveImages(serial, get(await openIndex(index, serial)()), texts[2], { ...defaultRetrieveOptions, candidates: 10, rerank: 6 })())
  assert.equal(JSON.parse(readFileSync(out, 'utf8')).hits, JSON.parse(JSON.stringify(api.hits)))
  await serial.close()
  await pooled.close()
})

test.after(() => rmSync(root, { recursive: true, force: true }))

test.run()
