import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { printGraph } from '../compiler/ir/print.js'
import { eliminateDeadCode, runEliminateDeadCode } from '../compiler/passes/eliminate-dead-code.js'
import * as d from '../dsl/index.js'
import { assertSameOutputs, randomFeeds } from './support/same-outputs.js'

test('drops declared inputs no output uses', async () => {
  const x = d.input('x', 'float32', [2])
  const unused = d.input('unused', 'float32', [5])
  const mask = d.input('mask', 'bool', [2])
  const g = d.graph('g', [unused, x, mask], { y: d.where(mask, d.exp(x), 0) })
  const r = runEliminateDeadCode(g)
  assert.ok(r.changed)
  assert.equal(r.stats, { fired: { inputs: 1 }, missed: {} })
  assert.equal(r.graph.inputs, [x, mask])
  assert.equal(r.graph.outputs, g.outputs)
  assert.is(
    printGraph(r.graph),
    [
      'graph g(x: float32[2], mask: bool[2]) {',
      '  %0 = Input "mask" : bool[2]',
      '  %1 = Input "x" : float32[2]',
      '  %2 = Exp(%1) : float32[2]',
      '  %3 = Constant <0> : float32[]',
      '  %4 = Where(%0, %2, %3) : float32[2]',
      '  return {y: %4}',
      '}',
      ''
    ].join('\n')
  )
  await assertSameOutputs(g, r.graph, randomFeeds(g))
})

test('keeps a graph whose inputs are all used', () => {
  const x = d.input('x', 'float32', [2])
  const g = d.graph('g', [x], { y: d.neg(x), w: d.param('w', [3]) })
  const r = eliminateDeadCode.run(g)
  assert.not.ok(r.changed)
  assert.is(r.graph, g)
})

test.run()
