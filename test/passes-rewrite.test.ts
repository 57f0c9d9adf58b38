/**
 * The rewrite engine: bottom-up rebuilding, re-application to a replacement, fired and
 * missed counts, rules restricted to op kinds, commuted operands, type checks, retyping.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import type { Node } from '../compiler/ir/node.js'
import { make } from '../compiler/ir/node.js'
import { as, binary } from '../compiler/passes/match.js'
import { bound, checked, miss, rule, rulePass, runRules, simpleRule } from '../compiler/passes/rewrite.js'
import * as d from '../dsl/index.js'

/** `Neg(Neg(x))` -> x. */
const negNeg = simpleRule('negNeg', ['Neg'], (n) => as(n.inputs[0], 'Neg')?.inputs[0] ?? null)

test('rebuilds users of rewritten nodes and keeps unchanged graphs', () => {
  const x = d.input('x', 'float32', [3])
  const g = d.graph('g', [x], { y: d.exp(d.neg(d.neg(x))), z: d.abs(x) })
  const r = runRules(g, [negNeg])
  assert.ok(r.changed)
  assert.is(r.graph.outputs[0].node, d.exp(x))
  assert.is(r.graph.outputs[1].node, g.outputs[1].node)
  assert.equal(r.stats, { fired: { negNeg: 1 }, missed: {} })
  const same = runRules(r.graph, [negNeg])
  assert.not.ok(same.changed)
  assert.is(same.graph, r.graph)
})

test('re-applies the rules to a replacement: Neg^4 resolves at one node', () => {
  const x = d.input('x', 'float32', [3])
  const g = d.graph('g', [x], { y: d.neg(d.neg(d.neg(d.neg(d.neg(x))))) })
  const r = runRules(g, [negNeg])
  assert.is(r.graph.outputs[0].node, d.neg(x))
})

test('counts misses by rule and reason; a pass drops them from runs that changed something', () => {
  const x = d.input('x', 'float32', [3])
  const y = d.input('y', 'float32', [3])
  const picky = rule<Node>({ name: 'picky', on: ['Add'], match: (n) => checked(n, (a) => (a.inputs[0] === x ? 'x comes first' : null)), rewrite: (n) => make('Sub', n.inputs, {}) })
  const g = d.graph('g', [x, y], { a: d.add(x, y), b: d.add(y, x) })
  const r = runRules(g, [picky])
  assert.equal(r.stats, { fired: { picky: 1 }, missed: { picky: { 'x comes first': 1 } } })
  assert.equal(rulePass('p', [picky]).run(g).stats, { fired: { picky: 1 }, missed: {} })
  const none = d.graph('g', [x, y], { a: d.add(x, y) })
  assert.equal(rulePass('p', [picky]).run(none).stats, { fired: {}, missed: { picky: { 'x comes first': 1 } } })
})

test('binary tries commuted operands for commutative ops only', () => {
  const x = d.input('x', 'float32', [3])
  const two = d.scalar(2, 'float32')
  const scaled = (n: Node): Node | null => (n.op === 'Constant' ? null : n)
  assert.is(binary(d.mul(two, x), 'Mul', (a, c) => (c.op === 'Constant' ? scaled(a) : null)), x)
  assert.is(binary(d.div(two, x), 'Div', (a, c) => (c.op === 'Constant' ? scaled(a) : null)), null)
})

test('a replacement of another type throws, unless the run retypes', () => {
  const x = d.input('x', 'float32', [3])
  const g = d.graph('g', [x], { y: d.abs(x) })
  const bad = rule<Node>({ name: 'bad', on: ['Abs'], match: () => bound(d.sum(x, 0)), rewrite: (n) => n })
  assert.throws(() => runRules(g, [bad]), /rule bad: .* was replaced by/)
  const toF64 = rule<Node>({ name: 'toF64', on: ['Input'], match: (n) => bound(make('Cast', [n], { to: 'float64' })), rewrite: (n) => n })
  const r = runRules(g, [toF64], { retype: true })
  assert.is(r.graph.outputs[0].node.dtype, 'float64', 'Abs was rebuilt over the float64 input')
  assert.equal(r.stats.fired, { toF64: 1 })
  assert.equal(miss('why'), { missed: 'why' })
})

test.run()
