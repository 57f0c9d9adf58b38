/**
 * compiler/passes/hoist-rows.ts: row-wise ops over rows gathered (by late indices) from
 * an early value are computed on the early value before the gather, with the same
 * outputs; nothing moves when the gathered value is late or the op mixes rows.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { topo } from '../compiler/ir/graph.js'
import type { Node } from '../compiler/ir/node.js'
import { hoistRows, inputsRead } from '../compiler/passes/hoist-rows.js'
import { runPipeline } from '../compiler/passes/pipeline.js'
import * as d from '../dsl/index.js'
import { randomTensor } from './support/random.js'
import { assertSameOutputs, randomFeeds } from './support/same-outputs.js'

const [B, T, D, K] = [2, 6, 4, 3]
const params = new Map([
  ['hr.ln.w', randomTensor('float32', [D], 1)],
  ['hr.ln.b', randomTensor('float32', [D], 2)],
  ['hr.fc.w', randomTensor('float32', [2 * D, D], 3)],
  ['hr.fc.b', randomTensor('float32', [2 * D], 4)]
])

/** `x` [B, T, D] early, `s` [B, T-1] late: [cls, the K best rows by s, a late token], then LN, a linear layer, GELU and a residual. */
const block = (late: (x: d.F32, s: d.F32) => d.F32): d.Graph => {
  const x = d.input('hrX', 'float32', [B, T, D])
  const s = d.input('hrS', 'float32', [B, T - 1])
  const keep = d.topk(s, K, -1, true).indices
  const token = d.unsqueeze(d.mul(d.sum(d.slice(x, 1, 1, T), 1), d.sum(s, -1, true)), 1) // [B, 1, D], reads s
  const rows = d.concat([d.slice(x, 1, 0, 1), d.gatherRows(late(d.slice(x, 1, 1, T), s), keep), token], 1)
  const h = d.linear(d.layerNorm(rows, d.param('hr.ln.w', [D]), d.param('hr.ln.b', [D]), 1e-6), d.param('hr.fc.w', [2 * D, D]), d.param('hr.fc.b', [2 * D]))
  const y = d.add(d.slice(d.gelu(h), 2, 0, D), rows)
  return d.graph('hr', [x, s], { y: d.softmax(y, 1) })
}

/** The MatMul nodes whose left input reads input `name`. */
const productsReading = (g: d.Graph, name: string): Node[] => topo(g).filter((n) => n.op === 'MatMul' && inputsRead(n.inputs[0]).has(name))

test('row-wise ops move before a gather of early rows by late indices', async () => {
  const g = block((c) => c)
  const r = runPipeline(g, [hoistRows(['hrS'])])
  assert.ok((r.stats.hoistRows.fired.rows ?? 0) > 0)
  // the products over gathered rows now run on all T-1 early rows; the late token's stays
  const early = productsReading(r.graph, 'hrX').filter((n) => !inputsRead(n.inputs[0]).has('hrS'))
  assert.equal(early.map((n) => n.shape[1]).sort(), [1, T - 1])
  assert.equal(productsReading(r.graph, 'hrS').map((n) => n.shape[1]), [1])
  await assertSameOutputs(g, r.graph, randomFeeds(g), params)
})

test('nothing moves when the gathered rows read a late input', () => {
  const g = block((c, s) => d.mul(c, d.unsqueeze(s, 2)))
  const r = runPipeline(g, [hoistRows(['hrS'])])
  assert.is(r.stats.hoistRows.fired.rows ?? 0, 0)
  assert.is(r.graph, g)
})

test('nothing moves through an op that mixes rows', () => {
  const x = d.input('hrX', 'float32', [B, T, D])
  const s = d.input('hrS', 'float32', [B, T])
  const rows = d.gatherRows(x, d.topk(s, K, -1, true).indices)
  const g = d.graph('hr', [x, s], { y: d.softmax(rows, 1), z: d.mean(rows, [1]) })
  assert.is(runPipeline(g, [hoistRows(['hrS'])]).graph, g)
})

test.run()
