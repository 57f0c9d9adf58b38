/**
 * A gather's gradient scatters onto rows that repeat. onnxruntime's CPU ScatterND(add)
 * races there (its threads add into the same rows); the lowering must give the exact sum,
 * the same on every run, with more than one thread.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { emitModel } from '../compiler/emit/model.js'
import { fromNumbers, zeros, type HostTensor } from '../compiler/ir/tensor.js'
import * as d from '../dsl/index.js'
import { openSession } from '../runtime/session.js'
import { randomTensor } from './support/random.js'
import { right } from './support/right.js'

// 64 rows of 4160 floats (an image prefix of 65 tokens x 64 in training), 192 updates:
// every row twice, one in three a third time (ITM's positives, negatives and partners)
const [R, N, W] = [64, 192, 4160]
const rows = [...Array.from({ length: R }, (_, i) => i), ...Array.from({ length: R }, (_, i) => (i * 7) % R), ...Array.from({ length: R }, (_, i) => i)]

test('scatter-add onto repeated rows is exact and the same on every run at 2 threads', async () => {
  const updates = randomTensor('float32', [N, W], 5)
  const [x, i, u] = [d.input('x', 'float32', [R, W]), d.input('i', 'int64', [N, 1]), d.input('u', 'float32', [N, W])]
  const { model } = right(emitModel(d.graph('scatter', [x, i, u], { y: d.scatterNDAdd(x, i, u) })))
  const session = right(await openSession(model, { threads: 2 })())
  const feeds: Record<string, HostTensor> = {
    x: zeros('float32', [R, W]),
    i: fromNumbers('int64', [N, 1], rows),
    u: updates
  }
  const want = new Float64Array(R * W)
  const upd = updates.data as Float32Array
  rows.forEach((r, n) => {
    for (let j = 0; j < W; j++) want[r * W + j] += upd[n * W + j]
  })
  let first: Float32Array | undefined
  for (let run = 0; run < 20; run++) {
    const got = right(await session.run(feeds)()).y.data as Float32Array
    let worst = 0
    for (let k = 0; k < got.length; k++) worst = Math.max(worst, Math.abs(got[k] - want[k]))
    assert.ok(worst < 1e-5, `run ${run}: off by ${worst}`)
    if (first === undefined) first = Float32Array.from(got)
    else assert.ok(got.every((v, k) => v === first?.[k]), `run ${run} differs from run 0`)
  }
  right(await session.release()())
})

test.run()
