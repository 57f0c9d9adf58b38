/**
 * Float64 promotion: the interface keeps its float32 types, values are computed in
 * float64 (on onnxruntime too), float32-only ops stay float32 between casts, a patch
 * convolution becomes a MatMul, and a second run changes nothing.
 */
import * as E from 'fp-ts/lib/Either.js'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { emitModel } from '../compiler/emit/model.js'
import { evaluate } from '../compiler/eval/evaluate.js'
import { topo } from '../compiler/ir/graph.js'
import type { HostTensor } from '../compiler/ir/tensor.js'
import { promoteFloat64, runPromoteFloat64 } from '../compiler/passes/promote-float64.js'
import * as d from '../dsl/index.js'
import { openSession } from '../runtime/session.js'

const get = <A>(e: E.Either<{ message: string }, A>): A => {
  if (E.isLeft(e)) throw new Error(e.left.message)
  return e.right
}
const f32 = (shape: number[], f: (i: number) => number): HostTensor => ({ dtype: 'float32', shape, data: Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, (_, i) => f(i)) })

const ort = async (g: d.Graph, feeds: Record<string, HostTensor>): Promise<Record<string, HostTensor>> =>
  get(await get(await openSession(get(emitModel(g)).model)()).run(feeds)())

test('computes in float64 behind an unchanged float32 interface', async () => {
  const x = d.input('x', 'float32', [3])
  const c = d.scalar(1e8, 'float32')
  const g = d.graph('cancel', [x], { y: d.sub(d.add(x, c), c) })
  const feeds = { x: f32([3], (i) => i + 1) }
  assert.equal([...(await ort(g, feeds)).y.data], [0, 0, 0], 'float32 loses x entirely')
  const r = runPromoteFloat64(g)
  assert.ok(r.changed)
  assert.equal(r.graph.inputs, g.inputs)
  assert.is(r.graph.outputs[0].node.dtype, 'float32')
  assert.equal([...(await ort(r.graph, feeds)).y.data], [1, 2, 3])
  assert.not.ok(promoteFloat64.run(r.graph).changed, 'a second run changes nothing')
})

test('keeps float32-only ops between casts, turns a patch Conv into a MatMul', async () => {
  const pixels = d.input('pixels', 'float32', [2, 3, 8, 8])
  const ids = d.input('ids', 'int64', [2])
  const w = d.param('w', [4, 3, 4, 4])
  const b = d.param('b', [4])
  const y = d.conv2d(pixels, w, b, [4, 4]) // [2, 4, 2, 2]
  const h = d.gelu(d.reshape(y, [2, 16]))
  const g = d.graph('mix', [pixels, ids], { h, hot: d.mul(d.oneHot(ids, 16), h), n: d.cast(d.greater(h, 0), 'float32') })
  const r = runPromoteFloat64(g)
  const ops = topo(r.graph)
  assert.not.ok(ops.some((n) => n.op === 'Conv'), 'no Conv left')
  const erf = ops.filter((n) => n.op === 'Erf')
  assert.ok(erf.length > 0 && erf.every((n) => n.dtype === 'float32'), 'Erf stays float32')
  assert.ok(ops.filter((n) => n.op === 'MatMul').every((n) => n.dtype === 'float64'))
  const feeds = { pixels: f32([2, 3, 8, 8], (i) => Math.sin(i)), ids: { dtype: 'int64', shape: [2], data: BigInt64Array.from([3n, 15n]) } as HostTensor }
  const weights = new Map([['w', f32([4, 3, 4, 4], (i) => Math.cos(i) / 8)], ['b', f32([4], (i) => i / 10)]])
  const want = get(evaluate(g, feeds, weights))
  const got = await ort(r.graph, { ...feeds, w: weights.get('w') as HostTensor, b: weights.get('b') as HostTensor })
  for (const name of ['h', 'hot', 'n']) {
    assert.is(got[name].dtype, 'float32', name)
    want[name].data.forEach((v, i) => assert.ok(Math.abs(Number(v) - Number(got[name].data[i])) <= 1e-6, `${name}[${i}]`))
  }
})

test.run()
