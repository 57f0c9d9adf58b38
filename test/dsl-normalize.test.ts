/**
 * `normalize` of spec section 3: its value, and a finite gradient at a zero row (an
 * untrained projection with zero bias maps the all-zero fused token of keep rate 1 to
 * exactly zero).
 */
import * as E from 'fp-ts/lib/Either.js'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { grad } from '../compiler/autodiff/grad.js'
import { evaluate } from '../compiler/eval/evaluate.js'
import * as d from '../dsl/index.js'

test('normalize: x / max(|x|, 1e-12), with a finite gradient at zero', () => {
  const x = d.param('x', [2, 3], 'float64')
  const w = d.constant({ dtype: 'float64', shape: [2, 3], data: Float64Array.from([1, -2, 3, 0.5, 0.25, -1]) })
  const y = d.normalize(x)
  const g = d.graph('n', [], { y, loss: d.sum(d.mul(y, w), [0, 1]) })
  const r = grad(g, 'loss', 'params')
  assert.ok(E.isRight(r))
  const gg = (r as E.Right<d.Graph>).right
  const out = evaluate(gg, {}, new Map([['x', { dtype: 'float64', shape: [2, 3], data: Float64Array.from([3, 0, 4, 0, 0, 0]) }]]))
  assert.ok(E.isRight(out))
  const o = (out as E.Right<Record<string, { data: Float64Array }>>).right
  assert.equal([...o.y.data], [0.6, 0, 0.8, 0, 0, 0])
  const gx = [...o['grad.x'].data]
  assert.ok(gx.every(Number.isFinite), `gradient ${gx}`)
  // zero row: the function is x / 1e-12 there, so the gradient is w / 1e-12
  gx.slice(3).forEach((v, i) => assert.ok(Math.abs(v - [0.5, 0.25, -1][i] / 1e-12) <= 1e-3 * 1e12))
})

test.run()
