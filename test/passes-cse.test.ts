import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { topo } from '../compiler/ir/graph.js'
import { printGraph } from '../compiler/ir/print.js'
import { cse, runCse } from '../compiler/passes/cse.js'
import * as d from '../dsl/index.js'
import { assertSameOutputs, randomFeeds } from './support/same-outputs.js'

// Canonical operand order is by structural key, so it does not depend on which nodes
// were created first (see the last test).

test('merges commutative ops whatever their input order', async () => {
  const a = d.input('cseA', 'float32', [2, 3])
  const b = d.input('cseB', 'float32', [3])
  const g = d.graph('g', [a, b], { y: d.div(d.add(a, b), d.add(b, a)), z: d.maximum(d.mul(b, a), d.mul(a, b)) })
  assert.is(topo(g).length, 8)
  const r = runCse(g)
  assert.ok(r.changed)
  assert.equal(r.stats, { fired: { swapped: 2, merged: 2 }, missed: {} })
  assert.is(topo(r.graph).length, 6)
  assert.is(
    printGraph(r.graph),
    [
      'graph g(cseA: float32[2,3], cseB: float32[3]) {',
      '  %0 = Input "cseB" : float32[3]',
      '  %1 = Input "cseA" : float32[2,3]',
      '  %2 = Add(%0, %1) : float32[2,3]',
      '  %3 = Div(%2, %2) : float32[2,3]',
      '  %4 = Mul(%0, %1) : float32[2,3]',
      '  %5 = Max(%4, %4) : float32[2,3]',
      '  return {y: %3, z: %5}',
      '}',
      ''
    ].join('\n')
  )
  await assertSameOutputs(g, r.graph, randomFeeds(g))
  assert.not.ok(cse.run(r.graph).changed)
})

test('does not reorder non-commutative ops', () => {
  const a = d.input('cseP', 'float32', [3])
  const b = d.input('cseQ', 'float32', [3])
  const g = d.graph('g', [a, b], { y: d.add(d.sub(a, b), d.sub(b, a)) })
  const r = runCse(g)
  assert.not.ok(r.changed)
  assert.is(r.graph, g)
  assert.equal(r.stats, { fired: {}, missed: {} })
})

test('merges distinct Constant nodes with equal bytes', async () => {
  // 82.2265625 and 2048.2138671875 collide under the interning hash (FNV-1a of the
  // float32 bytes), so once the first is interned each `scalar` of the second makes a
  // fresh node.
  const x = d.input('cseX', 'float32', [3])
  const first = d.scalar(82.2265625, 'float32')
  const c1 = d.scalar(2048.2138671875, 'float32')
  const c2 = d.scalar(2048.2138671875, 'float32')
  assert.is.not(c1, c2)
  const g = d.graph('g', [x], { y: d.add(d.mul(x, c1), d.mul(x, c2)), z: d.add(x, first) })
  const r = runCse(g)
  assert.is(r.stats?.fired.constants, 1)
  assert.is(r.stats?.fired.merged, 2)
  assert.is(topo(r.graph).length, topo(g).length - 2)
  assert.is(r.graph.outputs[0].node.inputs[0], r.graph.outputs[0].node.inputs[1])
  await assertSameOutputs(g, r.graph, randomFeeds(g))
})

test.run()

test('canonical order does not depend on creation order', () => {
  const build = (flip: boolean): string => {
    const a = d.input('cseX', 'float32', [4])
    const b = d.input('cseY', 'float32', [4])
    const ea = d.exp(a)
    const eb = d.exp(b)
    const sum = flip ? d.add(eb, ea) : d.add(ea, eb)
    return printGraph(runCse(d.graph('g', [a, b], { y: sum })).graph)
  }
  // Build the operands in one order, then the other: ids differ, structure does not.
  const first = build(false)
  const eb = d.exp(d.input('cseY', 'float32', [4]))
  void eb
  assert.is(build(true), first)
})
