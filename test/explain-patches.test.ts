/**
 * `tracePatches`: kept candidate indices back to original patches across compression
 * layers, with the fusion weights of spec section 5.
 */
import * as E from 'fp-ts/lib/Either.js'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import type { CompressionStep, LayerPatches } from '../apps/explain/patches.js'
import { coverWeights, tracePatches } from '../apps/explain/patches.js'

const trace = (n: number, steps: CompressionStep[]): LayerPatches[] => {
  const r = tracePatches(n, steps)
  if (E.isLeft(r)) throw new Error(r.left.message)
  return r.right
}
const close = (a: readonly number[] | undefined, b: readonly number[], what: string): void => {
  assert.ok(a !== undefined && a.length === b.length && a.every((x, i) => Math.abs(x - b[i]) < 1e-12), `${what}: ${JSON.stringify(a)} vs ${JSON.stringify(b)}`)
}

const it = suite('tracePatches')

it('no compression layer: nothing to trace', () => {
  assert.equal(trace(9, []), [])
})

it('one layer: kept candidates are patches, the fused token weighs the dropped by s', () => {
  const [l] = trace(4, [{ layer: 3, keep: [0, 2], scores: [0.1, 0.2, 0.3, 0.4] }])
  assert.is(l.layer, 3)
  assert.is(l.candidates, 4)
  assert.equal(l.keptPatches, [0, 2])
  assert.equal(l.kept.map((k) => k.patches), [[0], [2]])
  assert.equal(l.fused.patches, [1, 3])
  close(l.fused.weights, [0.2 / 0.6, 0.4 / 0.6], 'fusion weights')
})

it('a fused token kept at a later layer covers every patch it absorbed', () => {
  // 6 patches. Layer 0 keeps patches 1, 4 and fuses 0, 2, 3, 5 into candidate 2 of layer 1.
  const steps = [
    { layer: 0, keep: [1, 4], scores: [0.1, 0.9, 0.2, 0.3, 0.8, 0.4] },
    { layer: 2, keep: [1, 2], scores: [0.5, 0.3, 0.6] } // keeps patch 4 and the fused token; drops patch 1
  ]
  const [l0, l1] = trace(6, steps)
  assert.equal(l0.fused.patches, [0, 2, 3, 5])
  close(l0.fused.weights, [0.1, 0.2, 0.3, 0.4], 'layer 0 fusion weights (s sums to 1 over the dropped)')
  assert.equal(l1.kept.map((k) => k.patches), [[4], [0, 2, 3, 5]])
  close(l1.kept[1].weights, [0.1, 0.2, 0.3, 0.4], 'the kept fused token keeps its weights')
  assert.equal(l1.keptPatches, [0, 2, 3, 4, 5])
  assert.equal(l1.fused.patches, [1])
  close(l1.fused.weights, [1], 'layer 2 fused token')
})

it('a fused token dropped again passes its patches on, weights multiplied', () => {
  const steps = [
    { layer: 1, keep: [0, 1], scores: [0.5, 0.5, 0.25, 0.75] }, // fused: patch 2 (0.25), patch 3 (0.75)
    { layer: 2, keep: [0], scores: [0.9, 0.3, 0.1] } // drops patch 1 (0.3) and the fused token (0.1)
  ]
  const [, l] = trace(4, steps)
  assert.equal(l.keptPatches, [0])
  assert.equal(l.fused.patches, [1, 2, 3])
  close(l.fused.weights, [0.75, 0.25 * 0.25, 0.25 * 0.75], 'nested weights')
  close(coverWeights(l.fused, 4), [0, 0.75, 0.0625, 0.1875], 'dense weights')
  const total = (l.fused.weights ?? []).reduce((a, b) => a + b, 0)
  assert.ok(Math.abs(total - 1) < 1e-12)
})

it('every patch is covered exactly once after each layer', () => {
  const layers = trace(16, [
    { layer: 0, keep: [0, 1, 2, 5, 6, 7, 9, 10, 12, 13, 14, 15], scores: Array.from({ length: 16 }, (_, i) => i + 1) },
    { layer: 1, keep: [0, 2, 4, 5, 6, 7, 8, 10, 11, 12], scores: Array.from({ length: 13 }, (_, i) => 1 / (i + 1)) },
    { layer: 3, keep: [1, 3, 4, 5, 7, 8, 9, 10], scores: Array.from({ length: 11 }, () => 1) }
  ])
  for (const l of layers) {
    const all = [...l.kept, l.fused].flatMap((c) => c.patches).sort((a, b) => a - b)
    assert.equal(all, Array.from({ length: 16 }, (_, i) => i), `layer ${l.layer}`)
  }
})

it('without guidance scores: patch sets only', () => {
  const [, l] = trace(4, [{ layer: 0, keep: [1, 3] }, { layer: 1, keep: [2] }])
  assert.equal(l.kept.map((k) => k.patches), [[0, 2]])
  assert.equal(l.keptPatches, [0, 2])
  assert.equal(l.fused.patches, [1, 3])
  assert.is(l.fused.weights, undefined)
})

it('bad steps are errors that say what is wrong', () => {
  const bad: Array<[CompressionStep[], RegExp]> = [
    [[{ layer: 0, keep: [0, 4] }], /kept index 4 is not a candidate index in \[0, 4\)/],
    [[{ layer: 0, keep: [2, 1] }], /strictly ascending \(2 then 1\)/],
    [[{ layer: 0, keep: [0, 1, 2, 3, 3] }], /5 kept indices but only 4 candidates/],
    [[{ layer: 0, keep: [0], scores: [1, 2] }], /2 guidance scores for 4 candidates/],
    [[{ layer: 0, keep: [0, 1] }, { layer: 1, keep: [3] }], /compression layer 1 \(step 1\): kept index 3 is not a candidate index in \[0, 3\)/]
  ]
  for (const [steps, message] of bad) {
    const r = tracePatches(4, steps)
    assert.ok(E.isLeft(r) && r.left.kind === 'input' && message.test(r.left.message), JSON.stringify(E.isLeft(r) ? r.left : steps))
  }
})

it.run()
