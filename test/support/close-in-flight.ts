/**
 * A child process for test/runtime-close.test.ts: opens a 2-worker engine on the model
 * directory argv[2], starts 64 runs, closes at once, prints how the runs ended. A crash
 * inside onnxruntime shows as the child's exit code.
 */
import * as E from 'fp-ts/lib/Either.js'
import { workerEngine } from '../../runtime/workers/pool.js'
import { randomTensor } from './random.js'

const eng = workerEngine(process.argv[2], { workers: 2, threads: 1 })
if (E.isLeft(eng)) throw new Error(eng.left.message)
const pixels = randomTensor('float32', [32, 3, 32, 32], 1)
const runs = Array.from({ length: 64 }, () => eng.right.run('vision_image', { pixels })())
await new Promise((r) => setTimeout(r, 50))
await eng.right.close()
const done = await Promise.all(runs)
const ok = done.filter(E.isRight).length
const closed = done.filter((r) => E.isLeft(r) && r.left.message === 'the engine pool was closed').length
process.stdout.write(JSON.stringify({ ok, closed, other: done.length - ok - closed }) + '\n')
