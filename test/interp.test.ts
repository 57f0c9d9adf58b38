import * as E from 'fp-ts/lib/Either.js'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import * as d from '../dsl/index.js'
import { evalNode, evaluate } from '../compiler/eval/evaluate.js'
import { evalRules } from '../compiler/eval/rules.js'
import { erf } from '../compiler/eval/rules-elementwise.js'
import { fromHost } from '../compiler/eval/value.js'
import type { DType } from '../compiler/ir/dtype.js'
import type { Node } from '../compiler/ir/node.js'
import { make } from '../compiler/ir/node.js'
import { allOps } from '../compiler/ir/ops.js'
import { fromNumbers, type HostTensor, toNumbers } from '../compiler/ir/tensor.js'

// -------------------------------------------------------------------------------------
// helpers
// -------------------------------------------------------------------------------------

const f32 = (shape: number[], values: number[]): d.F32 => d.constant(fromNumbers('float32', shape, values))
const f64 = (shape: number[], values: number[]): d.Tensor<'float64'> => d.constant(fromNumbers('float64', shape, values))
const i64 = (shape: number[], values: number[]): d.I64 => d.constant(fromNumbers('int64', shape, values))

/** Evaluates `y` (and any declared inputs), returning output `y`. */
const run = (y: Node, feeds: Record<string, HostTensor> = {}, inputs: Node<'Input'>[] = []): HostTensor => {
  const r = evaluate(d.graph('t', inputs, { y }), feeds)
  if (E.isLeft(r)) throw new Error(r.left.message)
  return r.right.y
}

/** Asserts dtype, shape and values (within `tol`, exact by default). */
const expect = (t: HostTensor, dtype: DType, shape: number[], values: number[], tol = 0): void => {
  assert.is(t.dtype, dtype)
  assert.equal([...t.shape], shape)
  const got = Array.from(toNumbers(t))
  assert.is(got.length, values.length, `${got} vs ${values}`)
  got.forEach((g, i) => assert.ok(Math.abs(g - values[i]) <= tol || g === values[i], `element ${i}: got ${g}, want ${values[i]} (all: ${got})`))
}

const left = (r: E.Either<{ kind: string; message: string }, unknown>, kind: string, ...fragments: string[]): void => {
  if (E.isRight(r)) return assert.unreachable('expected a Left')
  assert.is(r.left.kind, kind, r.left.message)
  for (const f of fragments) assert.ok(r.left.message.includes(f), `"${r.left.message}" should mention "${f}"`)
}

// -------------------------------------------------------------------------------------
// the table
// -------------------------------------------------------------------------------------

test('every op kind has a rule', () => {
  for (const op of allOps) assert.type(evalRules[op], 'function', op)
})

// -------------------------------------------------------------------------------------
// elementwise
// -------------------------------------------------------------------------------------

test('binary ops broadcast numpy-style', () => {
  const a = f32([2, 1], [1, 2])
  const b = f32([3], [10, 20, 30])
  expect(run(d.add(a, b)), 'float32', [2, 3], [11, 21, 31, 12, 22, 32])
  expect(run(d.sub(a, b)), 'float32', [2, 3], [-9, -19, -29, -8, -18, -28])
  expect(run(d.mul(a, b)), 'float32', [2, 3], [10, 20, 30, 20, 40, 60])
  expect(run(d.maximum(f32([3], [1, 5, 3]), 2)), 'float32', [3], [2, 5, 3])
  expect(run(d.minimum(f32([3], [1, 5, 3]), 2)), 'float32', [3], [1, 2, 2])
  expect(run(d.pow(f32([3], [2, 3, 4]), f32([1], [2]))), 'float32', [3], [4, 9, 16])
})

test('int64 division truncates toward zero; float division does not', () => {
  expect(run(d.div(i64([4], [7, -7, 7, -7]), i64([4], [2, 2, -2, -2]))), 'int64', [4], [3, -3, -3, 3])
  expect(run(d.div(f64([2], [7, -7]), 2)), 'float64', [2], [3.5, -3.5])
  left(evaluate(d.graph('t', [], { y: d.div(i64([1], [1]), i64([1], [0])) }), {}), 'input', 'division by zero')
})

test('float32 results are rounded to float32, float64 ones are not', () => {
  expect(run(d.add(f32([1], [0.1]), f32([1], [0.2]))), 'float32', [1], [Math.fround(Math.fround(0.1) + Math.fround(0.2))])
  expect(run(d.add(f64([1], [0.1]), f64([1], [0.2]))), 'float64', [1], [0.1 + 0.2])
})

test('comparisons and logic produce bool; Where selects', () => {
  const x = f32([4], [1, 2, 3, 4])
  const y = f32([4], [4, 2, 2, 4])
  expect(run(d.equal(x, y)), 'bool', [4], [0, 1, 0, 1])
  expect(run(d.less(x, y)), 'bool', [4], [1, 0, 0, 0])
  expect(run(d.greater(x, y)), 'bool', [4], [0, 0, 1, 0])
  expect(run(d.and(d.equal(x, y), d.less(x, 3))), 'bool', [4], [0, 1, 0, 0])
  expect(run(d.not(d.less(x, y))), 'bool', [4], [0, 1, 1, 1])
  // condition [2,1] against values [2] and a scalar -> [2,2]
  const cond = d.less(f32([2, 1], [0, 5]), 1)
  expect(run(d.where(cond, f32([2], [1, 2]), -1)), 'float32', [2, 2], [1, 2, -1, -1])
})

test('unary ops', () => {
  const x = f64([3], [-1, 0.5, 4])
  expect(run(d.neg(x)), 'float64', [3], [1, -0.5, -4])
  expect(run(d.abs(x)), 'float64', [3], [1, 0.5, 4])
  expect(run(d.exp(x)), 'float64', [3], [Math.exp(-1), Math.exp(0.5), Math.exp(4)])
  expect(run(d.tanh(x)), 'float64', [3], [Math.tanh(-1), Math.tanh(0.5), Math.tanh(4)])
  expect(run(d.sqrt(f64([2], [4, 2]))), 'float64', [2], [2, Math.SQRT2])
  expect(run(d.log(f64([2], [1, Math.E]))), 'float64', [2], [0, 1])
})

test('erf is accurate to float64 precision', () => {
  const known: Array<[number, number]> = [
    [0, 0],
    [0.1, 0.1124629160182849],
    [0.5, 0.5204998778130465],
    [1, 0.8427007929497149],
    [-2, -0.9953222650189527],
    [3, 0.9999779095030014],
    [5, 0.9999999999984626],
    [7, 1]
  ]
  // within a few ulp
  for (const [x, v] of known) assert.ok(Math.abs(erf(x) - v) <= 1e-15 * Math.abs(v), `erf(${x}) = ${erf(x)}, want ${v}`)
  expect(run(d.erf(f64([2], [1, -0.5]))), 'float64', [2], [0.8427007929497149, -0.5204998778130465], 1e-15)
})

test('Cast: to int64 truncates toward zero, to bool tests != 0, to float32 rounds', () => {
  const x = f32([5], [-1.7, 1.7, 2.5, -0.2, 0])
  expect(run(d.cast(x, 'int64')), 'int64', [5], [-1, 1, 2, 0, 0])
  expect(run(d.cast(x, 'bool')), 'bool', [5], [1, 1, 1, 1, 0])
  expect(run(d.cast(d.less(x, 0), 'float32')), 'float32', [5], [1, 0, 0, 1, 0])
  expect(run(d.cast(f64([1], [0.1]), 'float32')), 'float32', [1], [Math.fround(0.1)])
})

// -------------------------------------------------------------------------------------
// contractions
// -------------------------------------------------------------------------------------

test('MatMul 2x3 . 3x2', () => {
  const a = f32([2, 3], [1, 2, 3, 4, 5, 6])
  const b = f32([3, 2], [7, 8, 9, 10, 11, 12])
  expect(run(d.matmul(a, b)), 'float32', [2, 2], [58, 64, 139, 154])
})

test('MatMul broadcasts batch dims', () => {
  const a = f32([2, 2, 2], [1, 0, 0, 1, 2, 0, 0, 2]) // [I, 2I]
  const b = f32([2, 2], [1, 2, 3, 4])
  expect(run(d.matmul(a, b)), 'float32', [2, 2, 2], [1, 2, 3, 4, 2, 4, 6, 8])
  const c = f32([2, 1, 1, 2], [1, 1, 1, -1]) // batch [2,1] against [3]
  const e = f32([3, 2, 1], [1, 2, 3, 4, 5, 6])
  expect(run(d.matmul(c, e)), 'float32', [2, 3, 1, 1], [3, 7, 11, -1, -1, -1])
})

test('Conv 1x1x3x3 with a 2x2 kernel, bias, strides', () => {
  const x = f32([1, 1, 3, 3], [1, 2, 3, 4, 5, 6, 7, 8, 9])
  const w = f32([1, 1, 2, 2], [1, 2, 3, 4])
  // out[0,0] = 1*1 + 2*2 + 4*3 + 5*4 = 37, and so on
  expect(run(d.conv2d(x, w, undefined, [1, 1])), 'float32', [1, 1, 2, 2], [37, 47, 67, 77])
  expect(run(d.conv2d(x, w, f32([1], [1]), [1, 1])), 'float32', [1, 1, 2, 2], [38, 48, 68, 78])
  expect(run(d.conv2d(x, w, undefined, [2, 2])), 'float32', [1, 1, 1, 1], [37])
  // two output channels, two input channels
  const x2 = f32([1, 2, 2, 2], [1, 2, 3, 4, 10, 20, 30, 40])
  const w2 = f32([2, 2, 1, 1], [1, 0, 1, -1])
  expect(run(d.conv2d(x2, w2, f32([2], [0, 100]), [1, 1])), 'float32', [1, 2, 2, 2], [1, 2, 3, 4, 91, 82, 73, 64])
})

// -------------------------------------------------------------------------------------
// reductions
// -------------------------------------------------------------------------------------

test('ReduceSum / ReduceMean / ReduceMax with keepdims', () => {
  const x = f32([2, 3], [1, 2, 3, 4, 5, 6])
  expect(run(d.sum(x, 1)), 'float32', [2], [6, 15])
  expect(run(d.sum(x, 1, true)), 'float32', [2, 1], [6, 15])
  expect(run(d.mean(x, 0)), 'float32', [3], [2.5, 3.5, 4.5])
  expect(run(d.max(x, [0, 1])), 'float32', [], [6])
  expect(run(d.max(f32([2, 2], [-5, -7, -9, -1]), 0, true)), 'float32', [1, 2], [-5, -1])
  expect(run(d.sum(i64([3], [1, 2, 3]), 0)), 'int64', [], [6])
})

test('ArgMax takes the first max on ties', () => {
  const x = f32([2, 3], [1, 3, 3, 5, 2, 5])
  expect(run(d.argmax(x, 1)), 'int64', [2], [1, 0])
  expect(run(d.argmax(x, 0, true)), 'int64', [1, 3], [1, 0, 1])
})

test('TopK: sorted, ties keep the lower index first, largest and smallest', () => {
  const x = f32([5], [3, 1, 3, 2, 1])
  const big = d.topk(x, 3)
  expect(run(big.values), 'float32', [3], [3, 3, 2])
  expect(run(big.indices), 'int64', [3], [0, 2, 3])
  const small = d.topk(x, 3, -1, false)
  expect(run(small.values), 'float32', [3], [1, 1, 2])
  expect(run(small.indices), 'int64', [3], [1, 4, 3])
  // along axis 0 of a [3,2]
  const y = d.topk(f32([3, 2], [1, 6, 5, 6, 3, 0]), 2, 0)
  expect(run(y.values), 'float32', [2, 2], [5, 6, 3, 6])
  expect(run(y.indices), 'int64', [2, 2], [1, 0, 2, 1])
})

// -------------------------------------------------------------------------------------
// normalizations
// -------------------------------------------------------------------------------------

test('Softmax and LogSoftmax of [1, 2, 3], stable for large inputs', () => {
  const x = f64([3], [1, 2, 3])
  expect(run(d.softmax(x)), 'float64', [3], [0.09003057317038046, 0.24472847105479767, 0.6652409557748219], 1e-15)
  expect(run(d.logSoftmax(x)), 'float64', [3], [-2.4076059644443806, -1.4076059644443806, -0.4076059644443806], 1e-15)
  expect(run(d.softmax(f32([2], [1000, 1000]))), 'float32', [2], [0.5, 0.5])
  expect(run(d.logSoftmax(f64([2], [-1000, 0]))), 'float64', [2], [-1000, 0])
  // along axis 0 of a [2,2]
  expect(run(d.softmax(f64([2, 2], [0, 5, 0, 5]), 0)), 'float64', [2, 2], [0.5, 0.5, 0.5, 0.5])
})

test('LayerNormalization over the last axis, biased variance', () => {
  // mean 2.5, variance 1.25, + epsilon 0.75 = 2, so (x - mean) / sqrt(2)
  const x = f64([1, 4], [1, 2, 3, 4])
  const y = d.layerNorm(x, f64([4], [1, 1, 2, 2]), f64([4], [0, 1, 0, 1]), 0.75)
  const s = Math.SQRT2
  expect(run(y), 'float64', [1, 4], [-1.5 / s, 1 - 0.5 / s, (2 * 0.5) / s, 1 + (2 * 1.5) / s], 1e-15)
})

// -------------------------------------------------------------------------------------
// movement
// -------------------------------------------------------------------------------------

test('Reshape with a named dim B', () => {
  const x = d.input('x', 'float32', ['B', 6])
  const feed = fromNumbers('float32', [2, 6], [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11])
  const t = run(d.reshape(x, ['B', 2, 3]), { x: feed }, [x])
  expect(t, 'float32', [2, 2, 3], [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11])
  const u = run(d.reshape(x, [3, 'B', 2]), { x: feed }, [x])
  expect(u, 'float32', [3, 2, 2], [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11])
})

test('Transpose and Concat', () => {
  expect(run(d.transpose(f32([2, 3], [1, 2, 3, 4, 5, 6]), [1, 0])), 'float32', [3, 2], [1, 4, 2, 5, 3, 6])
  const a = f32([2, 1], [1, 2])
  const b = f32([2, 2], [3, 4, 5, 6])
  expect(run(d.concat([a, b], 1)), 'float32', [2, 3], [1, 3, 4, 2, 5, 6])
  expect(run(d.concat([b, b], 0)), 'float32', [4, 2], [3, 4, 5, 6, 3, 4, 5, 6])
})

test('Slice: negative and clamped bounds, and ends that name dims', () => {
  const x = f32([5], [0, 1, 2, 3, 4])
  expect(run(d.slice(x, 0, -3, 100)), 'float32', [3], [2, 3, 4])
  expect(run(d.slice(x, 0, -10, 2)), 'float32', [2], [0, 1])
  expect(run(d.slice(x, 0, 3, 1)), 'float32', [0], [])
  expect(run(d.slice(f32([2, 3], [1, 2, 3, 4, 5, 6]), 1, 1, -1)), 'float32', [2, 1], [2, 5])
  // T[1:] of a named dim: [L, 2] -> [L-1, 2], then a reshape that uses L-1
  const t = d.input('t', 'float32', ['L', 2])
  const feed = fromNumbers('float32', [3, 2], [1, 2, 3, 4, 5, 6])
  const tail = d.sliceFrom(t, 0, 1)
  assert.equal(tail.shape, ['L-1', 2])
  expect(run(d.reshape(tail, [2, 'L-1']), { t: feed }, [t]), 'float32', [2, 2], [3, 4, 5, 6])
  // up to the run-time size of another input's dim
  const pos = f32([4, 1], [10, 11, 12, 13])
  expect(run(d.add(d.slice(pos, 0, 0, 'L'), t), { t: feed }, [t]), 'float32', [3, 2], [11, 12, 14, 15, 17, 18])
})

test('Expand, Squeeze, Unsqueeze', () => {
  expect(run(d.expand(f32([3, 1], [1, 2, 3]), [3, 2])), 'float32', [3, 2], [1, 1, 2, 2, 3, 3])
  expect(run(d.expand(f32([2], [1, 2]), [2, 2])), 'float32', [2, 2], [1, 2, 1, 2])
  const b = d.input('b', 'float32', ['B', 2])
  const e = d.add(d.expand(f32([1, 2], [1, 2]), ['B', 2]), b)
  expect(run(e, { b: fromNumbers('float32', [3, 2], [0, 0, 10, 10, 20, 20]) }, [b]), 'float32', [3, 2], [1, 2, 11, 12, 21, 22])
  expect(run(d.squeeze(f32([1, 2, 1], [1, 2]), [0, 2])), 'float32', [2], [1, 2])
  expect(run(d.unsqueeze(f32([2], [1, 2]), [0, 2])), 'float32', [1, 2, 1], [1, 2])
})

// -------------------------------------------------------------------------------------
// indexing
// -------------------------------------------------------------------------------------

test('Gather on any axis, negative indices', () => {
  const table = f32([3, 2], [1, 2, 3, 4, 5, 6])
  expect(run(d.gather(table, i64([2], [2, -3]))), 'float32', [2, 2], [5, 6, 1, 2])
  expect(run(d.gather(table, i64([1, 2], [1, 0]), 1)), 'float32', [3, 1, 2], [2, 1, 4, 3, 6, 5])
  expect(run(d.gather(table, i64([], [1]))), 'float32', [2], [3, 4])
})

test('GatherElements', () => {
  const x = f32([2, 2], [1, 2, 3, 4])
  expect(run(d.gatherElements(x, i64([2, 2], [0, 0, 1, 0]), 1)), 'float32', [2, 2], [1, 1, 4, 3])
  expect(run(d.gatherElements(x, i64([1, 2], [1, -2]), 0)), 'float32', [1, 2], [3, 2])
})

test('GatherND, with batchDims 0 and 1', () => {
  expect(run(d.gatherND(f32([2, 2], [0, 1, 2, 3]), i64([2, 2], [0, 0, 1, 1]), 0)), 'float32', [2], [0, 3])
  expect(run(d.gatherND(f32([2, 2], [0, 1, 2, 3]), i64([2, 1], [1, 0]), 0)), 'float32', [2, 2], [2, 3, 0, 1])
  const x = f32([2, 3, 2], [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11])
  const idx = i64([2, 2, 1], [2, 0, 1, -1])
  expect(run(d.gatherND(x, idx, 1)), 'float32', [2, 2, 2], [4, 5, 0, 1, 8, 9, 10, 11])
  expect(run(d.gatherRows(x, i64([2, 1], [1, 2]))), 'float32', [2, 1, 2], [2, 3, 10, 11])
})

test('ScatterNDAdd accumulates duplicate indices', () => {
  const x = f32([4], [0, 0, 0, 0])
  expect(run(d.scatterNDAdd(x, i64([3, 1], [1, 1, 3]), f32([3], [1, 2, 5]))), 'float32', [4], [0, 3, 0, 5])
  const y = f32([2, 2], [1, 1, 1, 1])
  expect(run(d.scatterNDAdd(y, i64([2, 1], [0, 0]), f32([2, 2], [1, 2, 3, 4]))), 'float32', [2, 2], [5, 7, 1, 1])
})

test('OneHot: float32, negative indices from the end, out of range gives zeros', () => {
  expect(run(d.oneHot(i64([4], [0, 2, -1, 5]), 3)), 'float32', [4, 3], [1, 0, 0, 0, 0, 1, 0, 0, 1, 0, 0, 0])
})

// -------------------------------------------------------------------------------------
// evaluate and evalNode
// -------------------------------------------------------------------------------------

test('evaluate binds inputs and parameters by name, returns every output', () => {
  const x = d.input('x', 'float32', ['B', 2])
  const w = d.param('w', [2, 1])
  const g = d.graph('lin', [x], { y: d.matmul(x, w), x2: d.mul(x, 2) })
  const r = evaluate(g, { x: fromNumbers('float32', [2, 2], [1, 2, 3, 4]) }, new Map([['w', fromNumbers('float32', [2, 1], [1, -1])]]))
  if (E.isLeft(r)) return assert.unreachable(r.left.message)
  expect(r.right.y, 'float32', [2, 1], [-1, -1])
  expect(r.right.x2, 'float32', [2, 2], [2, 4, 6, 8])
})

test('evaluate: input errors name the input', () => {
  const x = d.input('x', 'float32', ['B', 3])
  const y = d.input('y', 'float32', ['B'])
  const g = d.graph('t', [x, y], { z: d.add(x, d.unsqueeze(y, 1)) })
  const ok = fromNumbers('float32', [2], [1, 2])
  left(evaluate(g, { y: ok }), 'input', 'input "x"', 'missing')
  left(evaluate(g, { x: fromNumbers('float32', [2, 4], new Array(8).fill(0)), y: ok }), 'input', 'input "x"', 'float32[B,3]', 'float32[2,4]')
  left(evaluate(g, { x: fromNumbers('float64', [2, 3], new Array(6).fill(0)), y: ok }), 'input', 'input "x"', 'float64')
  left(evaluate(g, { x: fromNumbers('float32', [6], new Array(6).fill(0)), y: ok }), 'input', 'input "x"')
  left(evaluate(g, { x: fromNumbers('float32', [2, 3], new Array(6).fill(0)), y: fromNumbers('float32', [5], [1, 2, 3, 4, 5]) }), 'input', 'input "y"', 'dim B')
})

test('evaluate: parameter errors are weights errors', () => {
  const w = d.param('w', [2])
  const g = d.graph('t', [], { y: d.mul(w, 2) })
  left(evaluate(g, {}), 'weights', 'parameter "w"', 'missing')
  left(evaluate(g, {}, new Map([['w', fromNumbers('float32', [3], [1, 2, 3])]])), 'weights', 'parameter "w"', 'float32[2]')
})

test('evaluate: an index out of range is a Left, not a throw', () => {
  const g = d.graph('t', [], { y: d.gather(f32([2], [1, 2]), i64([1], [2])) })
  left(evaluate(g, {}), 'input', 'index 2 out of range')
})

test('evalNode folds a node over constant inputs', () => {
  const host = fromNumbers('float32', [2], [1.5, 2.5])
  const a = d.constant(host)
  const n = make('Mul', [a, a], {})
  const v = evalNode(n, [fromHost(host), fromHost(host)])
  assert.is(v.dtype, 'float32')
  assert.equal([...v.shape], [2])
  assert.equal(Array.from(v.data), [2.25, 6.25])
})

test.run()
