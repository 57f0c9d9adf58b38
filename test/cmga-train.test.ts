/**
 * `cmga train` end to end on a generated world of coloured shapes: a few hundred
 * pre-training steps of a very small model make the loss fall and held-out recall@1
 * rise far above chance; the result compiles with `cmga compile --weights`. Then a run
 * killed with SIGKILL and resumed ends with exactly the parameters and optimizer state
 * of an uninterrupted run, and its checkpoints are never half-written. A chosen set of
 * objectives trains only their parameters; a resume with more steps extends a run.
 */
import { spawn } from 'node:child_process'
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import * as E from 'fp-ts/lib/Either.js'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import type { HostTensor } from '../compiler/ir/tensor.js'
import { importCheckpoint } from '../apps/compile/checkpoint.js'
import { parameterList } from '../models/cmga/params.js'
import { readConfigFile } from '../apps/cmga/config-file.js'
import { QK_INIT_STD, randomWeights } from '../apps/compile/random-init.js'
import { loadImages } from '../runtime/images/index.js'
import { readSafetensors } from '../runtime/safetensors/index.js'
import { loadTokenizer } from '../runtime/text/index.js'
import { loadCheckpoint } from '../apps/train/checkpoint.js'
import { recallAt1, stageOneScores } from '../apps/train/evaluate.js'
import { cli, errorLine, tempDir } from './support/cli.js'
import { writeSmallConfig, writeSplit } from './support/shapes-data.js'

const get = <A>(e: E.Either<{ message: string }, A>): A => {
  if (E.isLeft(e)) throw new Error(e.left.message)
  return e.right
}
const root = tempDir('cmga-train-')
const configPath = writeSmallConfig(root)
const train = writeSplit(root, 'train', 6, 1) // 72 pairs
const heldOut = writeSplit(root, 'val', 1, 2) // 12 new drawings, one per caption: chance R@1 = 1/12

const trainArgs = (out: string, steps: number, ...more: string[]): string[] => [
  'train', '--config', configPath, '--annotations', join(root, 'train.json'), '--images', root, '--out', out,
  '--steps', String(steps), '--batch', '8', '--lr', '2e-3', '--max-len', '6', ...more
]

/** Mean stage-1 recall@1 of weights on the held-out pairs. */
const heldOutRecall = async (weights: ReadonlyMap<string, HostTensor>): Promise<{ textToImage: number; imageToText: number }> => {
  const c = get(readConfigFile(configPath))
  const { pairs } = await heldOut
  const tk = get(loadTokenizer(join(root, 'vocab.txt'), { maxLength: 6 }))
  const enc = tk.encode(pairs.map((p) => p.caption))
  const pixels = get(await loadImages(pairs.map((p) => join(root, p.image)), c.vision.imageSize, { onError: 'fail' })).pixels
  return recallAt1(get(await stageOneScores(c, weights, pixels, enc.ids, enc.mask)()))
}

test('pre-training makes the loss fall and held-out recall@1 rise far above chance', async () => {
  await train
  const out = join(root, 'run')
  const r = await cli(...trainArgs(out, 300, '--log-every', '100'))
  assert.is(r.code, 0, errorLine(r))
  const log = JSON.parse(readFileSync(join(out, 'log.json'), 'utf8')) as { history: Array<{ step: number; values: Record<string, number> }> }
  assert.is(log.history.length, 300)
  const mean = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length
  const losses = log.history.map((h) => h.values.loss)
  const [first, last] = [mean(losses.slice(0, 20)), mean(losses.slice(-50))]
  assert.ok(last < 0.6 * first, `loss fell from ${first.toFixed(3)} to ${last.toFixed(3)}`)
  const c = get(readConfigFile(configPath))
  const before = await heldOutRecall(randomWeights(c, 0))
  const after = await heldOutRecall(get(importCheckpoint(c, join(out, 'weights.safetensors'))).weights)
  const chance = 1 / 12
  assert.ok(after.textToImage >= 0.3 && after.imageToText >= 0.3, `R@1 after training ${JSON.stringify(after)} (chance ${chance.toFixed(3)}, before ${JSON.stringify(before)})`)
  assert.ok(readFileSync(join(out, 'loss.svg'), 'utf8').startsWith('<svg'), 'loss curve')
  const compiled = await cli('compile', '--config', configPath, '--weights', join(out, 'weights.safetensors'), '--out', join(root, 'compiled'))
  assert.is(compiled.code, 0, errorLine(compiled))
})

/** Runs `cmga train` in a child process and SIGKILLs it once its latest checkpoint is at `killAt` or later. */
const killedRun = (args: readonly string[], out: string, killAt: number): Promise<number> =>
  new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['bin/cmga.mjs', ...args], { stdio: ['ignore', 'ignore', 'pipe'] })
    let stderr = ''
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
    const poll = setInterval(() => {
      try {
        const step = (JSON.parse(readFileSync(join(out, 'checkpoint.json'), 'utf8')) as { step: number }).step
        if (step >= killAt) child.kill('SIGKILL')
      } catch {
        // no checkpoint yet (or being replaced): poll again
      }
    }, 5)
    child.on('exit', (code, signal) => {
      clearInterval(poll)
      if (signal === 'SIGKILL') resolve((JSON.parse(readFileSync(join(out, 'checkpoint.json'), 'utf8')) as { step: number }).step)
      else reject(new Error(`the run ended by itself (code ${code}) before it could be killed: ${stderr}`))
    })
  })

test('SIGKILL and --resume give the parameters of an uninterrupted run; checkpoints are whole', async () => {
  await train
  // keep-rate warm-up over the first 30 steps: two graphs (keep rate 1, then 0.75)
  const more = ['--save-every', '5', '--warmup-keep', '30', '--keep-levels', '2', '--seed', '7']
  const whole = join(root, 'whole')
  const r = await cli(...trainArgs(whole, 60, ...more))
  assert.is(r.code, 0, errorLine(r))
  const broken = join(root, 'broken')
  const killedAt = await killedRun(trainArgs(broken, 60, ...more), broken, 20)
  assert.ok(killedAt >= 20 && killedAt < 60, `killed after step ${killedAt}`)
  const c = get(readConfigFile(configPath))
  for (const d of readdirSync(join(broken, 'checkpoints')).filter((n) => !n.startsWith('.'))) {
    assert.ok(['weights.safetensors', 'optimizer.safetensors', 'trainer.json'].every((f) => existsSync(join(broken, 'checkpoints', d, f))), `${d} is whole`)
  }
  assert.ok(E.isRight(loadCheckpoint(broken, c)), 'the latest checkpoint loads')
  const again = await cli(...trainArgs(broken, 60, ...more, '--resume'))
  assert.is(again.code, 0, errorLine(again))
  assert.ok(again.stderr.some((l) => l.startsWith(`resuming from step ${killedAt}`)), again.stderr.join('\n'))
  for (const file of ['weights.safetensors', join('checkpoints', 'step-00000060', 'optimizer.safetensors')]) {
    const [a, b] = [get(readSafetensors(join(whole, file))).tensors, get(readSafetensors(join(broken, file))).tensors]
    assert.equal([...b.keys()], [...a.keys()], file)
    for (const [k, t] of a) assert.ok(Buffer.from((b.get(k) as HostTensor).data.buffer).equals(Buffer.from(t.data.buffer)), `${file}: ${k} differs`)
  }
  const log = JSON.parse(readFileSync(join(broken, 'log.json'), 'utf8')) as { history: Array<{ step: number; keepRate: number }> }
  assert.equal(log.history.map((h) => h.step), Array.from({ length: 60 }, (_, i) => i + 1), 'one history entry per step across the restart')
  assert.equal([...new Set(log.history.map((h) => h.keepRate))], [1, 0.75])
})

const sameBytes = (a: HostTensor | undefined, b: HostTensor | undefined): boolean =>
  a !== undefined && b !== undefined && Buffer.from(a.data.buffer, a.data.byteOffset, a.data.byteLength).equals(Buffer.from(b.data.buffer, b.data.byteOffset, b.data.byteLength))

test('--objectives itc trains only what ITC uses; the log and the progress lines name its losses', async () => {
  await train
  const out = join(root, 'itc')
  const r = await cli(...trainArgs(out, 4, '--objectives', 'itc', '--log-every', '2'))
  assert.is(r.code, 0, errorLine(r))
  assert.ok(r.stderr.some((l) => /^step 2\/4  mean of last 2: loss \d+\.\d{3} \(itc \d+\.\d{3}\)  lr /.test(l)), r.stderr.join('\n'))
  const log = JSON.parse(readFileSync(join(out, 'log.json'), 'utf8')) as { options: { objectives: string[] }; history: Array<{ values: Record<string, number> }> }
  assert.equal(log.options.objectives, ['itc'])
  assert.equal(Object.keys(log.history[0].values), ['loss', 'loss_itc', 'grad_norm'])
  const c = get(readConfigFile(configPath))
  const start = randomWeights(c, 0, 0.02, QK_INIT_STD) // what cmga train draws
  const trained = get(readSafetensors(join(out, 'weights.safetensors'))).tensors
  assert.equal([...trained.keys()], parameterList(c).map((p) => p.name), 'every parameter is saved')
  for (const name of ['itm_head.weight', 'text_encoder.cls.predictions.bias', 'text_encoder.encoder.layer.1.crossattention.self.query.weight']) {
    assert.ok(sameBytes(trained.get(name), start.get(name)), `${name} is as initialised`)
  }
  for (const name of ['text_proj.weight', 'vision_proj.weight', 'temp']) assert.not.ok(sameBytes(trained.get(name), start.get(name)), `${name} is trained`)
})

test('--objectives itm --itm-detach trains the relation module and the ITM head and leaves the encoders as they started', async () => {
  await train
  const out = join(root, 'detach')
  const r = await cli(...trainArgs(out, 3, '--objectives', 'itm', '--itm-detach'))
  assert.is(r.code, 0, errorLine(r))
  const c = get(readConfigFile(configPath))
  const start = randomWeights(c, 0, 0.02, QK_INIT_STD) // what cmga train draws
  const trained = get(readSafetensors(join(out, 'weights.safetensors'))).tensors
  for (const name of ['visual_encoder.pos_embed', 'visual_encoder.blocks.0.attn.qkv.weight', 'text_encoder.embeddings.word_embeddings.weight', 'text_encoder.encoder.layer.0.attention.self.query.weight']) {
    assert.ok(sameBytes(trained.get(name), start.get(name)), `${name} is as initialised`)
  }
  for (const name of ['itm_head.weight', `text_encoder.encoder.layer.${c.text.textLayers}.crossattention.self.query.weight`]) assert.not.ok(sameBytes(trained.get(name), start.get(name)), `${name} is trained`)
  const again = await cli(...trainArgs(out, 5, '--objectives', 'itm', '--resume'))
  assert.match(errorLine(again), /--itm-detach differs from the run being resumed \(true there, none here\)/)
})

test('--resume with more --steps extends the run (random ITM negatives, no flips); another flag is named', async () => {
  await train
  const out = join(root, 'extend')
  const more = ['--mode', 'retrieval', '--itm-negatives', 'random', '--flip', 'none']
  const first = await cli(...trainArgs(out, 4, ...more))
  assert.is(first.code, 0, errorLine(first))
  // the default warm-up is 5% of --steps: 0 steps of 4, but it would be 1 of 12
  const longer = await cli(...trainArgs(out, 12, ...more, '--resume'))
  assert.is(longer.code, 0, errorLine(longer))
  assert.ok(longer.stderr.some((l) => l.startsWith('resuming from step 4')), longer.stderr.join('\n'))
  const log = JSON.parse(readFileSync(join(out, 'log.json'), 'utf8')) as { options: { warmupLr: number; steps: number; initQkStd: number }; history: Array<{ step: number; lr: number; values: Record<string, number> }> }
  assert.equal(log.history.map((h) => h.step), Array.from({ length: 12 }, (_, i) => i + 1), 'the log continues')
  assert.is(log.options.warmupLr, 0)
  assert.is(log.options.steps, 12)
  assert.is(log.options.initQkStd, 0.2, 'the default query/key init, kept by the resume')
  assert.ok(log.history.every((h) => Number.isFinite(h.values.loss_itm)))
  const otherLr = await cli(...trainArgs(out, 14, ...more, '--resume').map((a) => (a === '2e-3' ? '1e-3' : a)))
  assert.match(errorLine(otherLr), /--lr differs from the run being resumed \(2e-3 there, 1e-3 here\)/)
  const otherInit = await cli(...trainArgs(out, 14, ...more, '--init-qk-std', '0.02', '--resume'))
  assert.match(errorLine(otherInit), /--init-qk-std differs from the run being resumed \(0.2 there, 0.02 here\)/)
  const otherNegatives = await cli(...trainArgs(out, 14, '--mode', 'retrieval', '--resume'))
  assert.match(errorLine(otherNegatives), /--itm-negatives differs from the run being resumed \(random there, hard here\); --flip differs from the run being resumed \(none there, swap here\)/)
})

test('--init uses the vocabulary beside the weights it starts from (their word embeddings are indexed by it)', async () => {
  await train
  // run A tokenizes with a vocabulary in another order than the one beside the config
  const own = readFileSync(join(root, 'vocab.txt'), 'utf8').trim().split('\n')
  const permuted = [...own.slice(0, 5), ...own.slice(5).reverse()].join('\n') + '\n'
  const vocabDir = join(root, 'permuted')
  const a = join(root, 'vocab-a')
  mkdirSync(vocabDir, { recursive: true })
  writeFileSync(join(vocabDir, 'vocab.txt'), permuted)
  const ra = await cli(...trainArgs(a, 2, '--mode', 'retrieval', '--vocab', join(vocabDir, 'vocab.txt'), '--save-every', '1'))
  assert.is(ra.code, 0, errorLine(ra))
  for (const init of [join(a, 'weights.safetensors'), join(a, 'checkpoints', 'step-00000001', 'weights.safetensors')]) {
    const b = join(root, 'vocab-b')
    const rb = await cli(...trainArgs(b, 2, '--mode', 'retrieval', '--init', init, '--force'))
    assert.is(rb.code, 0, errorLine(rb))
    assert.is(readFileSync(join(b, 'vocab.txt'), 'utf8'), permuted, `the vocabulary beside ${init}, not the config's`)
    assert.ok(rb.stderr.some((l) => l.includes('vocabulary: ') && l.includes('vocab-a')), rb.stderr.join('\n'))
  }
})

test('bad use: one clear message each', async () => {
  await train
  const cases: Array<[string[], RegExp]> = [
    [['train', '--config', configPath], /--annotations is required/],
    [trainArgs(join(root, 'x1'), 10, '--mode', 'caption'), /--mode must be pretrain or retrieval/],
    [trainArgs(join(root, 'x2'), 10, '--lr', 'fast'), /--lr must be a positive number/],
    [['train', '--config', configPath, '--annotations', join(root, 'nope.json'), '--images', root, '--out', join(root, 'x3'), '--steps', '5', '--batch', '4', '--lr', '1e-3'], /cannot read annotations .*nope\.json/],
    [trainArgs(join(root, 'x4'), 10, '--max-len', '20'), /--max-length must be in \[2, text.maxPositions = 8\]/],
    [trainArgs(join(root, 'run'), 10), /--out .*run already exists \(use --force to replace it\); it holds a training run: --resume continues it/],
    [trainArgs(join(root, 'x5'), 10, '--objectives', 'itc,foo'), /--objectives must be a comma list of distinct itc, ftc, itm, mlm/],
    [trainArgs(join(root, 'x6'), 10, '--objectives', 'itc', '--mode', 'retrieval'), /pass --mode or --objectives, not both/],
    [trainArgs(join(root, 'x7'), 10, '--flip', 'sideways'), /--flip must be one of swap, plain, none/],
    [trainArgs(join(root, 'x8'), 10, '--objectives', 'itc,ftc', '--itm-negatives', 'random'), /--itm-negatives needs the itm objective/],
    [trainArgs(join(root, 'x15'), 10, '--objectives', 'itc,ftc', '--itm-detach'), /--itm-detach needs the itm objective/],
    [trainArgs(join(root, 'x9'), 10, '--neg-temp', '0.1'), /--neg-temp is the temperature of --itm-negatives sample/],
    [trainArgs(join(root, 'x10'), 10, '--lr-floor', '2'), /--lr-floor must be a number in \[0, 1\]/],
    [trainArgs(join(root, 'x10q'), 10, '--init-qk-std', '0'), /--init-qk-std must be a positive number/],
    [trainArgs(join(root, 'x11'), 10, '--near-misses', '0.7'), /--near-misses must be a number in \[0, 0.5\]/],
    [trainArgs(join(root, 'x12'), 10, '--near-miss-focus', 'left:0.5'), /--near-miss-focus needs --near-misses above 0/],
    [trainArgs(join(root, 'x13'), 10, '--near-misses', '0.5', '--near-miss-focus', 'left,right'), /--near-miss-focus takes WORD,WORD,...:SHARE/],
    [trainArgs(join(root, 'x14'), 10, '--near-misses', '0.5', '--near-miss-focus', 'left:1.5'), /--near-miss-focus takes WORD,WORD,...:SHARE with SHARE in \[0, 1\]/]
  ]
  for (const [args, message] of cases) {
    const r = await cli(...args)
    assert.ok(r.code !== 0, args.join(' '))
    assert.match(errorLine(r), message)
  }
})

test.run()
