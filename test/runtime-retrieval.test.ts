import { cpSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import * as E from 'fp-ts/lib/Either.js'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import type { Runtime, Scores } from '../apps/cmga/runtime.js'
import { openRuntime, stage1 } from '../apps/cmga/runtime.js'
import type { Candidate } from '../apps/cmga/rank.js'
import { byScore } from '../apps/cmga/rank.js'
import { recallOf } from '../apps/retrieval/evaluate.js'
import { preCaption } from '../runtime/text/caption.js'
import { loadImages } from '../runtime/images/index.js'
import { readAnnotations } from '../apps/retrieval/annotations.js'
import { openIndex } from '../apps/retrieval/gallery.js'
import { defaultRetrieveOptions, retrieveImages, retrieveTexts } from '../apps/retrieval/retrieve.js'
import { encodeScoredTexts } from '../apps/retrieval/scored-texts.js'
import type { HostTensor } from '../compiler/ir/tensor.js'
import { takeRows } from '../runtime/model/rows.js'
import { compileModel } from '../apps/compile/compile.js'
import { readConfigFile } from '../apps/cmga/config-file.js'
import { randomWeights } from '../apps/compile/random-init.js'
import { cli, errorLine, tempDir } from './support/cli.js'
import { PICTURES, compileTinyModel, writeDataset } from './support/retrieval-data.js'

const root = tempDir('cmga-retrieval-')
const model = compileTinyModel(join(root, 'model'))
let ds: Awaited<ReturnType<typeof writeDataset>>
const textsFile = join(root, 'texts.json')
const galleryTexts = PICTURES.map((p) => p.captions[0])
writeFileSync(textsFile, JSON.stringify(galleryTexts))
const index = join(root, 'index')

const get = <A>(e: E.Either<{ message: string }, A>): A => {
  if (E.isLeft(e)) throw new Error(e.left.message)
  return e.right
}

const json = (path: string): any => JSON.parse(readFileSync(path, 'utf8'))

const ok = async (...args: string[]): Promise<void> => {
  const r = await cli(...args)
  assert.is(r.code, 0, errorLine(r))
}

const runtime = (): Runtime => get(openRuntime(model, { workers: 0 }))

/** ALBEF's R@1/5/10 by hand from a score matrix: rank = images (texts) scored higher, ties to the lower index. */
const byHand = (s: Scores, textImage: readonly number[], imageTexts: readonly (readonly number[])[]): number[] => {
  const rank = (scores: number[], target: number): number => scores.filter((v, x) => v > scores[target] || (v === scores[target] && x < target)).length
  const t2i = textImage.map((i, j) => rank(Array.from({ length: s.images }, (_, x) => stage1(s, x, j)), i))
  const i2t = imageTexts.map((js, i) => Math.min(...js.map((j) => rank(Array.from({ length: s.texts }, (_, y) => stage1(s, i, y)), j))))
  const r = (ranks: number[], k: number): number => (100 * ranks.filter((x) => x < k).length) / ranks.length
  return [r(i2t, 1), r(i2t, 5), r(i2t, 10), r(t2i, 1), r(t2i, 5), r(t2i, 10)]
}

test.before(async () => {
  ds = await writeDataset(join(root, 'data'))
})

test('cmga index: embeds the folder and the texts; index.json records the model', async () => {
  await ok('index', '--model', model, '--images', ds.images, '--texts', textsFile, '--out', index, '--workers', '0', '--shard-size', '5')
  const m = json(join(index, 'index.json'))
  assert.is(m.format, 'cmga-index')
  assert.equal(m.images.files, PICTURES.map((p) => p.name).sort())
  assert.equal(m.images.shards.map((s: { count: number }) => s.count), [5, 5, 2])
  assert.equal(m.texts.texts, galleryTexts)
  const rt = runtime()
  assert.is(m.model.fingerprint, rt.identity.fingerprint)
  await rt.close()
})

test('cmga retrieve: text to image and image to text agree with the API, bit for bit', async () => {
  const out = join(root, 'hits.json')
  await ok('retrieve', '--model', model, '--index', index, '--query', 'a red square on black', '--top', '5', '--candidates', '8', '--rerank', '4', '--out', out)
  const viaCli = json(out)
  assert.is(viaCli.hits.length, 5)
  assert.ok(viaCli.hits.slice(0, 4).every((h: { itm?: unknown }) => h.itm !== undefined) && viaCli.hits[4].itm === undefined)
  for (const [k, h] of viaCli.hits.entries()) {
    assert.is(h.rank, k + 1)
    assert.ok(Math.abs(h.stage1 - (h.global + h.local)) < 1e-6)
    assert.ok(Math.abs(h.score - (h.stage1 + 0.1 * h.itm?.logOdds)) < 1e-9 || h.itm === undefined)
  }
  const rt = runtime()
  const g = get(await openIndex(index, rt)())
  const viaApi = get(await retrieveImages(rt, g, 'a red square on black', { ...defaultRetrieveOptions, top: 5, candidates: 8, rerank: 4 })())
  assert.equal(viaCli.hits, JSON.parse(JSON.stringify(viaApi.hits)))

  const textsOut = join(root, 'hits-texts.json')
  await ok('retrieve', '--model', model, '--index', index, '--image', join(ds.images, 'blue-circle.png'), '--top', '3', '--rule', 'itm', '--k', '3', '--out', textsOut)
  const texts = json(textsOut)
  const apiTexts = get(await retrieveTexts(rt, g, join(ds.images, 'blue-circle.png'), { ...defaultRetrieveOptions, top: 3, rerank: 3, rule: { kind: 'itm' } })())
  assert.equal(texts.hits, JSON.parse(JSON.stringify(apiTexts.hits)))
  assert.ok(texts.hits.every((h: { score: number; itm: { probability: number } }) => h.score === h.itm.probability))
  assert.ok(galleryTexts.includes(texts.hits[0].item))
  // --k above --candidates re-ranks every candidate, as eval retrieval does
  const capped = join(root, 'hits-capped.json')
  await ok('retrieve', '--model', model, '--index', index, '--query', 'a red square on black', '--top', '3', '--candidates', '3', '--k', '50', '--out', capped)
  const cappedHits = json(capped).hits as { itm?: unknown }[]
  assert.is(cappedHits.length, 3)
  assert.ok(cappedHits.every((h) => h.itm !== undefined), 'all 3 candidates re-ranked')
  await rt.close()
})

test('cmga eval retrieval (ALBEF format): stage-1 R@K equals recall by hand from the API score matrix', async () => {
  const out = join(root, 'eval.json')
  await ok('eval', 'retrieval', '--model', model, '--annotations', ds.albef, '--images', ds.images, '--k', '4', '--workers', '0', '--itm-weight-sweep', '0, 0.1', '--out', out)
  const r = json(out)
  assert.is(r.format, 'albef')
  // The sweep scores the same verdicts: at the default weight it is rerank_combined, at 0 stage 1's order.
  assert.equal(r.rerank_combined_sweep.map((x: { weight: number }) => x.weight), [0, 0.1])
  assert.equal(r.rerank_combined_sweep[1].recall, r.rerank_combined)
  assert.equal(r.rerank_combined_sweep[0].recall, r.stage1)
  assert.equal([r.images, r.texts, r.k], [12, 24, 4])
  const a = get(readAnnotations(ds.albef, 'test'))
  const rt = runtime()
  const px = get(await loadImages(a.images.map((p) => join(ds.images, p)), 32, { onError: 'fail' }))
  const s = get(await rt.score(get(await rt.encodeImages(px.pixels)()), get(await rt.encodeTexts(a.texts)())) ())
  await rt.close()
  const [t1, t5, t10, i1, i5, i10] = byHand(s, a.textImage, a.imageTexts)
  assert.equal([r.stage1.txt_r1, r.stage1.txt_r5, r.stage1.txt_r10, r.stage1.img_r1, r.stage1.img_r5, r.stage1.img_r10], [t1, t5, t10, i1, i5, i10])
  assert.ok(Math.abs(r.stage1.r_mean - (t1 + t5 + t10 + i1 + i5 + i10) / 6) < 1e-9)
  for (const rule of ['rerank_itm', 'rerank_combined']) {
    // Re-ranking only re-orders the top 4: recall at 5 and 10 cannot change.
    assert.equal([r[rule].txt_r5, r[rule].txt_r10, r[rule].img_r5, r[rule].img_r10], [t5, t10, i5, i10], rule)
  }
  // --spin only changes how idle onnxruntime threads wait: the same recall, in-process and on a worker
  for (const workers of ['0', '1']) {
    const spun = join(root, `eval-spin-${workers}.json`)
    await ok('eval', 'retrieval', '--model', model, '--annotations', ds.albef, '--images', ds.images, '--k', '4', '--workers', workers, '--spin', '--out', spun)
    for (const part of ['stage1', 'rerank_itm', 'rerank_combined']) assert.equal(json(spun)[part], r[part], `${part}, --workers ${workers}`)
  }
})

test('texts for scoring are encoded in shards, padded to the longest, equal to one call over the set', async () => {
  const a = get(readAnnotations(ds.albef, 'test'))
  const texts = [...a.texts, 'a much longer caption than the others that goes on and on about a picture of nothing at all']
  const rt = get(openRuntime(model, { workers: 0, batchSize: 1 }))
  const calls: number[] = []
  const spy: Runtime = { ...rt, encodeTexts: (ts) => (calls.push(ts.length), rt.encodeTexts(ts)) }
  const phases: Array<[number, number]> = []
  const sharded = get(await encodeScoredTexts(spy, texts, (_, done, total) => phases.push([done, total]))())
  const whole = get(await rt.encodeTexts(texts)())
  await rt.close()
  assert.equal(calls, [8, 8, 8, 1])
  assert.equal(phases.at(-1), [texts.length, texts.length])
  assert.equal(sharded.mask.shape, whole.mask.shape)
  assert.equal([...sharded.mask.data], [...whole.mask.data])
  assert.equal(sharded.tokens.shape, whole.tokens.shape)
  const diff = (x: Float32Array, y: Float32Array): number => x.reduce((m, v, i) => Math.max(m, Math.abs(v - y[i])), 0)
  assert.ok(diff(sharded.global.data, whole.global.data) < 1e-5, 'itc_text')
  // text_tokens [N, L - 1, E] are the tokens after [CLS]; only unmasked ones are scored
  const [N, L1, Et] = sharded.tokens.shape
  let worst = 0
  for (let n = 0; n < N; n++) for (let t = 0; t < L1; t++) {
    if (whole.mask.data[n * (L1 + 1) + t + 1] === 0n) continue
    const at = (n * L1 + t) * Et
    worst = Math.max(worst, diff(sharded.tokens.data.subarray(at, at + Et), whole.tokens.data.subarray(at, at + Et)))
  }
  assert.ok(worst < 1e-5, `text_tokens at unmasked positions: ${worst}`)
})

test('eval retrieval: each pair of both directions computed once gives the re-ranked recall of re-ranking each direction through the API', async () => {
  const r = json(join(root, 'eval.json'))
  const a = get(readAnnotations(ds.albef, 'test'))
  const rt = runtime()
  const px = get(await loadImages(a.images.map((p) => join(ds.images, p)), 32, { onError: 'fail' }))
  const tf = get(await rt.encodeTexts(a.texts.map((t) => preCaption(t, 30)))())
  const s = get(await rt.score(get(await rt.encodeImages(px.pixels)()), tf)())
  const order = (n: number, score: (x: number) => number): Candidate[] => byScore(Array.from({ length: n }, (_, x) => ({ index: x, score: score(x) })))
  const i2t = Array.from({ length: s.images }, (_, i) => order(s.texts, (j) => stage1(s, i, j)))
  const t2i = Array.from({ length: s.texts }, (_, j) => order(s.images, (i) => stage1(s, i, j)))
  const queries = [...i2t.map((candidates, image) => ({ image, candidates })), ...t2i.map((candidates, text) => ({ text, candidates }))]
  for (const [name, rule] of [['rerank_itm', { kind: 'itm' }], ['rerank_combined', { kind: 'combined', weight: 0.1 }]] as const) {
    const ranked = get(await rt.rerank({ pixels: px.pixels, texts: tf, queries, k: 4, rule })())
    const ids = ranked.map((l) => l.map((x) => x.index))
    assert.equal(r[name], recallOf(ids.slice(0, s.images), ids.slice(s.images), a.imageTexts, a.textImage), name)
  }
  await rt.close()
})

test('re-ranking through the prefix cache (prefix once per image, suffix per pair) gives the ITM verdicts of vision_joint per pair', async () => {
  // The same model directory without the two prefix-cache stages: the runtime then runs vision_joint per pair.
  const plain = join(root, 'model-no-prefix')
  cpSync(model, plain, { recursive: true })
  const m = json(join(plain, 'manifest.json'))
  delete m.stages.vision_prefix
  delete m.stages.vision_joint_suffix
  writeFileSync(join(plain, 'manifest.json'), JSON.stringify(m))
  const a = get(readAnnotations(ds.albef, 'test'))
  const px = get(await loadImages(a.images.map((p) => join(ds.images, p)), 32, { onError: 'fail' }))
  const [cached, joint] = [runtime(), get(openRuntime(plain, { workers: 0 }))]
  assert.equal([cached.hasPrefixCache, joint.hasPrefixCache], [true, false])
  const tf = get(await cached.encodeTexts(a.texts.slice(0, 7))())
  const pairs = a.images.flatMap((_, i) => tf.texts.map((_, j) => [i, j] as const)).filter((_, n) => n % 3 !== 1)
  const [x, y] = [get(await cached.match(px.pixels, tf, pairs)()), get(await joint.match(px.pixels, tf, pairs)())]
  assert.is(x.length, pairs.length)
  x.forEach((v, n) => assert.ok(Math.abs(v.logOdds - y[n].logOdds) <= 1e-5 * (1 + Math.abs(y[n].logOdds)), `pair ${pairs[n].join(',')}: ${v.logOdds} vs ${y[n].logOdds}`))
  await Promise.all([cached.close(), joint.close()])
})

test('--rerank-guidance image: the ITM head reads each image\'s text-agnostic tokens; eval retrieval reports it and agrees with the API', async () => {
  const a = get(readAnnotations(ds.albef, 'test'))
  const rt = runtime()
  const px = get(await loadImages(a.images.map((p) => join(ds.images, p)), 32, { onError: 'fail' }))
  const tf = get(await rt.encodeTexts(a.texts.map((t) => preCaption(t, 30)))())
  const pairs = a.images.flatMap((_, i) => [i % tf.texts.length, (3 * i + 5) % tf.texts.length].map((j) => [i, j] as const))
  const viaImage = get(await rt.match(px.pixels, tf, pairs, 'image')())
  // by hand: vision_image's tokens of each pair's image, the relation stage on them
  const tokens = get(await rt.engine.run('vision_image', { pixels: px.pixels })()).vision_embeds as HostTensor<'float32'>
  const rel = get(await rt.engine.run('relation', { text_embeds: takeRows(tf.embeds, pairs.map((p) => p[1])), attention_mask: takeRows(tf.mask, pairs.map((p) => p[1])), vision_embeds: takeRows(tokens, pairs.map((p) => p[0])) })())
  const logits = (rel.itm_logits as HostTensor<'float32'>).data
  viaImage.forEach((v, n) => assert.ok(Math.abs(v.logOdds - (logits[2 * n + 1] - logits[2 * n])) <= 1e-5 * (1 + Math.abs(v.logOdds)), `pair ${pairs[n].join(',')}`))
  const viaJoint = get(await rt.match(px.pixels, tf, pairs)())
  assert.ok(viaJoint.some((v, n) => Math.abs(v.logOdds - viaImage[n].logOdds) > 1e-4), 'joint guidance reads other tokens')
  // eval retrieval with the flag: the same recall as re-ranking through the API with image guidance
  const out = join(root, 'eval-image.json')
  await ok('eval', 'retrieval', '--model', model, '--annotations', ds.albef, '--images', ds.images, '--k', '4', '--workers', '0', '--rerank-guidance', 'image', '--out', out)
  const r = json(out)
  assert.is(r.rerankGuidance, 'image')
  assert.is(json(join(root, 'eval.json')).rerankGuidance, 'joint')
  const s = get(await rt.score(get(await rt.encodeImages(px.pixels)()), tf)())
  const order = (n: number, score: (x: number) => number): Candidate[] => byScore(Array.from({ length: n }, (_, x) => ({ index: x, score: score(x) })))
  const queries = [
    ...Array.from({ length: s.images }, (_, image) => ({ image, candidates: order(s.texts, (j) => stage1(s, image, j)) })),
    ...Array.from({ length: s.texts }, (_, text) => ({ text, candidates: order(s.images, (i) => stage1(s, i, text)) }))
  ]
  const ranked = get(await rt.rerank({ pixels: px.pixels, texts: tf, queries, k: 4, rule: { kind: 'itm' }, guidance: 'image' })())
  const ids = ranked.map((l) => l.map((x) => x.index))
  assert.equal(r.rerank_itm, recallOf(ids.slice(0, s.images), ids.slice(s.images), a.imageTexts, a.textImage))
  await rt.close()
  const bad = await cli('eval', 'retrieval', '--model', model, '--annotations', ds.albef, '--images', ds.images, '--rerank-guidance', 'text')
  assert.is(bad.code, 2)
  assert.match(errorLine(bad), /--rerank-guidance/)
})

test('int8 (--quantize int8 --int8-min-elements): every stage a re-rank runs is quantized; index, retrieve and eval retrieval run on it', async () => {
  const q = join(root, 'model-int8')
  await ok('compile', '--config', 'test/fixtures/cmga-tiny/config.json', '--weights', 'test/fixtures/cmga-tiny/weights.safetensors', '--quantize', 'int8', '--int8-min-elements', '4096', '--vocab', join(model, 'vocab.txt'), '--out', q)
  assert.is(json(join(q, 'manifest.json')).quantize, 'int8')
  for (const stage of ['text', 'vision_image', 'vision_prefix', 'vision_joint_suffix', 'relation']) assert.ok(readFileSync(join(q, `${stage}.onnx`)).includes('DynamicQuantizeMatMul'), stage)
  const out = join(root, 'eval-int8.json')
  await ok('eval', 'retrieval', '--model', q, '--annotations', ds.albef, '--images', ds.images, '--k', '4', '--workers', '0', '--out', out)
  const [r8, r32] = [json(out), json(join(root, 'eval.json'))]
  assert.equal([r8.images, r8.texts, r8.k], [12, 24, 4])
  for (const part of ['stage1', 'rerank_itm', 'rerank_combined']) assert.ok(Math.abs(r8[part].r_mean - r32[part].r_mean) <= 10, `${part}: int8 ${r8[part].r_mean} vs float32 ${r32[part].r_mean}`)
  const qIndex = join(root, 'index-int8')
  await ok('index', '--model', q, '--images', ds.images, '--texts', textsFile, '--out', qIndex, '--workers', '0')
  const hits = join(root, 'hits-int8.json')
  await ok('retrieve', '--model', q, '--index', qIndex, '--query', 'a red square on black', '--top', '5', '--k', '4', '--out', hits)
  assert.ok(json(hits).hits.slice(0, 4).every((h: { itm?: unknown }) => h.itm !== undefined))
  const small = await cli('compile', '--config', 'test/fixtures/cmga-tiny/config.json', '--weights', 'test/fixtures/cmga-tiny/weights.safetensors', '--int8-min-elements', '4096', '--out', join(root, 'no'))
  assert.match(errorLine(small), /--int8-min-elements goes with --quantize int8/)
})

test('compile --serve-k: the manifest carries the model\'s ranking defaults, which cmga retrieve uses unless --k says otherwise', async () => {
  const tiny = ['--config', 'test/fixtures/cmga-tiny/config.json', '--weights', 'test/fixtures/cmga-tiny/weights.safetensors']
  const s = join(root, 'model-serve')
  await ok('compile', ...tiny, '--vocab', join(model, 'vocab.txt'), '--serve-k', '0', '--serve-why', 'its ITM head ranks worse here', '--out', s)
  const ranking = { k: 0, why: 'its ITM head ranks worse here' }
  assert.equal(json(join(s, 'manifest.json')).ranking, ranking)
  const sIndex = join(root, 'index-serve')
  await ok('index', '--model', s, '--images', ds.images, '--out', sIndex, '--workers', '0')
  const plain = join(root, 'hits-serve.json')
  const r = await cli('retrieve', '--model', s, '--index', sIndex, '--query', 'a red square on black', '--top', '5', '--out', plain)
  assert.is(r.code, 0, errorLine(r))
  assert.ok(r.stderr.some((l) => l.includes("ranking: the model's default, stage 1 only (--k 0): its ITM head ranks worse here; --k N overrides it")), r.stderr.join('\n'))
  const hits = json(plain)
  assert.equal(hits.modelRanking, ranking)
  assert.ok(hits.hits.length === 5 && hits.hits.every((h: { itm?: unknown; score: number; stage1: number }) => h.itm === undefined && h.score === h.stage1), 'stage 1 only')
  const told = join(root, 'hits-serve-k.json')
  const r4 = await cli('retrieve', '--model', s, '--index', sIndex, '--query', 'a red square on black', '--top', '5', '--k', '4', '--out', told)
  assert.is(r4.code, 0, errorLine(r4))
  assert.not.ok(r4.stderr.some((l) => l.startsWith('ranking:')), 'the flags chose')
  assert.ok(json(told).hits.slice(0, 4).every((h: { itm?: unknown }) => h.itm !== undefined))
  for (const [flags, message] of [[['--serve-why', 'x'], /--serve-why goes with --serve-k/], [['--serve-k', 'many'], /--serve-k must be an integer in \[0, 4096\]/], [['--serve-k', '2', '--serve-itm-weight', 'high'], /--serve-itm-weight must be a number/]] as const) {
    const bad = await cli('compile', ...tiny, ...flags, '--out', join(root, 'no-serve'))
    assert.ok(bad.code !== 0)
    assert.match(errorLine(bad), message)
  }
})

test('cmga eval retrieval (Karpathy format, --split test; candidates below the set size)', async () => {
  const out = join(root, 'eval-k.json')
  await ok('eval', 'retrieval', '--model', model, '--annotations', ds.karpathy, '--images', ds.images, '--split', 'test', '--candidates', '5', '--k', '2', '--workers', '0', '--out', out)
  const r = json(out)
  assert.equal([r.format, r.split, r.images, r.texts, r.candidates], ['karpathy', 'test', 9, 18, 5])
  for (const part of [r.stage1, r.rerank_itm, r.rerank_combined]) {
    for (const v of Object.values(part) as number[]) assert.ok(v >= 0 && v <= 100)
    assert.ok(part.txt_r1 <= part.txt_r5 && part.txt_r5 <= part.txt_r10 && part.img_r1 <= part.img_r5 && part.img_r5 <= part.img_r10)
  }
})

test('API: vqa with the head, a clear error without it; bad pixel shapes', async () => {
  const rt = runtime()
  const px = get(await loadImages(PICTURES.slice(0, 2).map((p) => join(ds.images, p.name)), 32, { onError: 'fail' })).pixels
  const questions = get(await rt.encodeTexts(['what colour is the square', 'is it a circle'])())
  const v = get(await rt.vqa(px, questions)())
  assert.equal(v.shape, [2, rt.config.vqa?.numAnswers])
  const mismatch = await rt.vqa(px, get(await rt.encodeTexts(['a'])()))()
  assert.ok(E.isLeft(mismatch) && mismatch.left.message.includes('2 images but 1 questions'))
  const wrong = await rt.encodeImages({ dtype: 'float32', shape: [1, 3, 16, 16], data: new Float32Array(768) })()
  assert.ok(E.isLeft(wrong) && wrong.left.message === 'pixels must be float32 [B, 3, 32, 32], got float32 [1, 3, 16, 16]')
  await rt.close()
  const config = get(readConfigFile('test/fixtures/cmga-tiny/config.json'))
  const { vqa: _, ...noVqa } = config
  const dir = join(root, 'no-vqa')
  get(compileModel({ config: noVqa, weights: randomWeights(noVqa, 1), weightsSource: 'random-init:1', weightsSummary: 'random', out: dir }))
  const rt2 = get(openRuntime(dir, { vocab: join(model, 'vocab.txt') }))
  const none = await rt2.vqa(px, questions)()
  assert.ok(E.isLeft(none) && none.left.message.includes('has no VQA head'))
  await rt2.close()
})

test('every new command has --help', async () => {
  for (const args of [['index'], ['retrieve'], ['eval', 'retrieval']]) {
    const r = await cli(...args, '--help')
    assert.is(r.code, 0)
    assert.match(r.stdout.join('\n'), `Usage: cmga ${args.join(' ')}`)
  }
})

test.after(() => rmSync(root, { recursive: true, force: true }))

test.run()
