import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { nodesOf, topo, type Graph } from '../compiler/ir/graph.js'
import { printGraph } from '../compiler/ir/print.js'
import { fromNumbers } from '../compiler/ir/tensor.js'
import { foldConstants, foldConstantsWith, runFoldConstants } from '../compiler/passes/fold-constants.js'
import * as d from '../dsl/index.js'
import { assertSameOutputs, randomFeeds } from './support/same-outputs.js'
import { randomTensor } from './support/random.js'

const fold = (g: Graph) => runFoldConstants(g)

test('folds a subgraph of constants into one Constant', async () => {
  const x = d.input('x', 'float32', [2, 3])
  const c = d.constant(fromNumbers('float32', [3, 2], [0, 0.5, 1, 1.5, 2, 2.5]))
  const g = d.graph('g', [x], { y: d.add(x, d.exp(d.mul(d.transpose(c, [1, 0]), 2))) })
  const r = fold(g)
  assert.ok(r.changed)
  assert.equal(r.stats?.fired, { foldTranspose: 1, fold: 2 })
  assert.is(topo(r.graph).length, 3)
  assert.is(
    printGraph(r.graph),
    [
      'graph g(x: float32[2,3]) {',
      '  %0 = Input "x" : float32[2,3]',
      '  %1 = Constant <1, 7.389056205749512, 54.598148345947266, 2.7182817459106445, 20.08553695678711, 148.4131622314453> : float32[2,3]',
      '  %2 = Add(%0, %1) : float32[2,3]',
      '  return {y: %2}',
      '}',
      ''
    ].join('\n')
  )
  await assertSameOutputs(g, r.graph, randomFeeds(g))
})

test('removes exact identities, keeps broadcasting ones', async () => {
  const x = d.input('x', 'float32', [2, 3])
  const ones = d.constant(fromNumbers('float32', [2, 3], [1, 1, 1, 1, 1, 1]))
  const zeros23 = d.constant(fromNumbers('float32', [2, 3], [0, -0, 0, 0, 0, 0]))
  const y = d.sub(d.div(d.add(d.mul(1, d.mul(x, ones)), zeros23), 1), 0)
  const row = d.input('row', 'float32', [3])
  const z = d.mul(row, ones) // broadcasts [3] to [2,3]: not an identity
  const g = d.graph('g', [x, row], { y, z })
  const r = fold(g)
  assert.equal(r.stats?.fired, { mulOne: 2, addZero: 1, divOne: 1, subZero: 1 })
  assert.is(r.graph.outputs[0].node, x)
  assert.is(r.graph.outputs[1].node, z)
  await assertSameOutputs(g, r.graph, randomFeeds(g))
})

test('removes no-op and composes movement ops', async () => {
  const x = d.input('x', 'float32', [2, 3, 4])
  const same = d.reshape(d.transpose(x, [0, 1, 2]), [2, 3, 4])
  const rr = d.reshape(d.reshape(x, [6, 4]), [4, 6])
  const tt = d.transpose(d.transpose(x, [1, 2, 0]), [2, 0, 1]) // identity overall
  const t2 = d.transpose(d.transpose(x, [1, 0, 2]), [0, 2, 1])
  const g = d.graph('g', [x], { same, rr, tt, t2 })
  const r = fold(g)
  assert.equal(r.stats?.fired, { transposeIdentity: 2, reshapeSame: 1, reshapeReshape: 1, transposeTranspose: 2 })
  const [o1, o2, o3, o4] = r.graph.outputs.map((o) => o.node)
  assert.is(o1, x)
  assert.is(o3, x)
  assert.equal([o2.op, o2.inputs[0]], ['Reshape', x])
  assert.equal([o4.op, o4.inputs[0], (o4.attrs as { perm: number[] }).perm], ['Transpose', x, [1, 2, 0]])
  await assertSameOutputs(g, r.graph, randomFeeds(g))
})

test('respects the size limit, but always folds Reshape and Transpose of Constants', async () => {
  const x = d.input('x', 'float32', [4, 2])
  const c = d.constant(randomTensor('float32', [2, 4], 3))
  const g = d.graph('g', [x], { y: d.add(x, d.transpose(c, [1, 0])), z: d.add(x, d.reshape(d.exp(c), [4, 2])) })
  const r = runFoldConstants(g, { maxElements: 4 })
  assert.equal(r.stats?.fired, { foldTranspose: 1 })
  assert.is(nodesOf(r.graph, 'Exp').length, 1)
  assert.is(nodesOf(r.graph, 'Transpose').length, 0)
  await assertSameOutputs(g, r.graph, randomFeeds(g))
  const all = foldConstantsWith({ maxElements: 8 }).run(g)
  assert.equal(all.stats?.fired, { foldTranspose: 1, fold: 1, foldReshape: 1 })
})

test('folds int64 movement exactly and leaves unsafe int64 arithmetic alone', () => {
  const big = d.constant({ dtype: 'int64', shape: [1, 2], data: BigInt64Array.from([2n ** 60n + 1n, 3n]) })
  const moved = fold(d.graph('g', [], { y: d.transpose(big, [1, 0]) }))
  const t = (moved.graph.outputs[0].node.attrs as { value: { data: BigInt64Array } }).value
  assert.equal(Array.from(t.data), [2n ** 60n + 1n, 3n])
  const sum = fold(d.graph('g', [], { y: d.add(big, big) }))
  assert.not.ok(sum.changed)
})

test('leaves Params, Inputs and failing evaluations alone; second run changes nothing', () => {
  const x = d.input('x', 'float32', [3])
  const w = d.param('w', [3])
  const bad = d.gather(d.vector([1, 2], 'float32'), d.vector([5], 'int64'))
  const g = d.graph('g', [x], { y: d.mul(x, w), bad })
  const r = fold(g)
  assert.not.ok(r.changed)
  assert.is(r.graph, g)
  const once = foldConstants.run(d.graph('h', [x], { y: d.exp(d.vector([1, 2, 3], 'float32')) }))
  assert.ok(once.changed)
  assert.not.ok(foldConstants.run(once.graph).changed)
})

test.run()
