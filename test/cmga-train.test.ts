/**
 * `cmga train` end to end on a generated world of coloured shapes: a few hundred
 * pre-training steps of a very small model make the loss fall and held-out recall@1
 * rise far above chance; the result compiles with `cmga compile --weights`. Then a run
 * killed with SIGKILL and resumed ends with exactly the parameters and optimizer state
 * of an uninterrupted run, and its checkpoints are never half-written.
 */
import { spawn } from 'node:child_process'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import * as E from 'fp-ts/lib/Either.js'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import type { HostTensor } from '../compiler/ir/tensor.js'
import { importCheckpoint } from '../apps/compile/checkpoint.js'
import { readConfigFile } from '../apps/cmga/config-file.js'
import { randomWeights } from '../apps/compile/random-init.js'
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

test('bad use: one clear message each', async () => {
  await train
  const cases: Array<[string[], RegExp]> = [
    [['train', '--config', configPath], /--annotations is required/],
    [trainArgs(join(root, 'x1'), 10, '--mode', 'caption'), /--mode must be pretrain or retrieval/],
    [trainArgs(join(root, 'x2'), 10, '--lr', 'fast'), /--lr must be a positive number/],
    [['train', '--config', configPath, '--annotations', join(root, 'nope.json'), '--images', root, '--out', join(root, 'x3'), '--steps', '5', '--batch', '4', '--lr', '1e-3'], /cannot read annotations .*nope\.json/],
    [trainArgs(join(root, 'x4'), 10, '--max-len', '20'), /--max-len must be in \[2, text.maxPositions = 8\]/],
    [trainArgs(join(root, 'run'), 10), /already holds a training run: pass --resume/]
  ]
  for (const [args, message] of cases) {
    const r = await cli(...args)
    assert.ok(r.code !== 0, args.join(' '))
    assert.match(errorLine(r), message)
  }
})

test.run()
