import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { topo } from '../compiler/ir/graph.js'
import { printGraph } from '../compiler/ir/print.js'
import { fromNumbers } from '../compiler/ir/tensor.js'
import type { Pass } from '../compiler/passes/pass.js'
import { defaultPasses, runPipeline } from '../compiler/passes/pipeline.js'
import * as d from '../dsl/index.js'
import { randomTensor } from './support/random.js'
import { assertSameOutputs, randomFeeds } from './support/same-outputs.js'

test('the default passes fold, merge and prune to a fixed point', async () => {
  // names unique to this test: CSE orders commutative inputs by creation order
  const x = d.input('pipeX', 'float32', [2, 3])
  const unused = d.input('unused', 'float32', [4])
  const w = d.param('pipeW', [3, 2])
  const wT = d.transpose(w, [1, 0])
  const bias = d.reshape(d.reshape(d.exp(d.constant(fromNumbers('float32', [3], [0, 1, 2]))), [1, 3]), [3])
  const y = d.add(d.mul(x, wT), d.mul(wT, d.mul(x, 1)))
  const z = d.transpose(d.transpose(d.add(x, bias), [1, 0]), [1, 0])
  const g = d.graph('g', [x, unused], { y, z })
  const r = runPipeline(g, defaultPasses)
  assert.ok(r.converged)
  assert.is(r.iterations, 2)
  assert.equal(r.stats, {
    foldConstants: { fired: { fold: 1, foldReshape: 2, mulOne: 1, transposeIdentity: 1, transposeTranspose: 1 }, missed: {} },
    cse: { fired: { swapped: 1, merged: 1 }, missed: {} },
    eliminateDeadCode: { fired: { inputs: 1 }, missed: {} }
  })
  assert.is(
    printGraph(r.graph),
    [
      'graph g(pipeX: float32[2,3]) {',
      '  %0 = Input "pipeX" : float32[2,3]',
      '  %1 = Param "pipeW" : float32[3,2]',
      '  %2 = Transpose(%1) {perm=[1,0]} : float32[2,3]',
      '  %3 = Mul(%0, %2) : float32[2,3]',
      '  %4 = Add(%3, %3) : float32[2,3]',
      '  %5 = Constant <1, 2.7182817459106445, 7.389056205749512> : float32[3]',
      '  %6 = Add(%0, %5) : float32[2,3]',
      '  return {y: %4, z: %6}',
      '}',
      ''
    ].join('\n')
  )
  await assertSameOutputs(g, r.graph, randomFeeds(g), new Map([['pipeW', randomTensor('float32', [3, 2], 7)]]))
})

test('a pass whose output does not verify is named in the error', () => {
  const x = d.input('x', 'float32', [2])
  const g = d.graph('g', [x], { y: d.neg(x) })
  const broken: Pass = { name: 'dropInputs', run: (h) => ({ graph: { ...h, inputs: [] }, changed: true }) }
  assert.throws(() => runPipeline(g, [broken]), (e: Error) => e.message.includes('pass "dropInputs"') && e.message.includes('not declared'))
})

test('stops after maxIterations when a pass never settles', () => {
  const x = d.input('x', 'float32', [2])
  const g = d.graph('g', [x], { y: d.neg(x) })
  const restless: Pass = { name: 'restless', run: (h) => ({ graph: h, changed: true, stats: { fired: { runs: 1 }, missed: { runs: { restless: 1 } } } }) }
  const r = runPipeline(g, [restless], { maxIterations: 3 })
  assert.not.ok(r.converged)
  assert.is(r.iterations, 3)
  assert.equal(r.stats, { restless: { fired: { runs: 3 }, missed: { runs: { restless: 3 } } } })
})

test('passes handle deep graphs without recursion', () => {
  const x = d.input('x', 'float32', [2, 3])
  let y: d.Tensor = x
  for (let i = 0; i < 5000; i++) y = d.neg(d.transpose(d.transpose(y, [1, 0]), [1, 0]))
  const g = d.graph('deep', [x], { y })
  assert.is(topo(g).length, 15001)
  const r = runPipeline(g, defaultPasses)
  assert.is(topo(r.graph).length, 5001)
  assert.equal(r.stats.foldConstants.fired, { transposeTranspose: 5000, transposeIdentity: 5000 })
})

test.run()
