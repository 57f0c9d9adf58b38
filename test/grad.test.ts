/**
 * Gradient checks: every differentiable op's VJP against central finite differences in
 * float64, evaluated with the reference interpreter, plus a small composite (an MLP with
 * layer norm and softmax cross-entropy) and the transform's own contract.
 */
import * as E from 'fp-ts/lib/Either.js'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { mulberry32 } from '../runtime/prng.js'
import { runGraph } from './support/same-outputs.js'
import { randomTensor } from './support/random.js'
import type { GradOptions } from '../compiler/autodiff/grad.js'
import { grad } from '../compiler/autodiff/grad.js'
import { evaluate } from '../compiler/eval/evaluate.js'
import type { Graph } from '../compiler/ir/graph.js'
import { graph, topo } from '../compiler/ir/graph.js'
import type { Node } from '../compiler/ir/node.js'
import { make } from '../compiler/ir/node.js'
import { verify } from '../compiler/ir/verify.js'
import type { OpKind, Shape } from '../compiler/ir/ops.js'
import { allOps } from '../compiler/ir/ops.js'
import type { HostTensor } from '../compiler/ir/tensor.js'
import { fromNumbers, toNumbers } from '../compiler/ir/tensor.js'
import type { Tensor } from '../dsl/index.js'
import * as D from '../dsl/index.js'

// -------------------------------------------------------------------------------------
// harness
// -------------------------------------------------------------------------------------

type F64 = Tensor<'float64'>

/** A float64 input the case differentiates: uniform in [lo, hi). */
interface Arg {
  readonly name: string
  readonly shape: Shape
  readonly lo?: number
  readonly hi?: number
}

interface Case {
  readonly name: string
  /** The op whose VJP this case checks (it must occur in the graph). */
  readonly op: OpKind
  readonly args: readonly Arg[]
  readonly f: (...xs: F64[]) => Node
  /** Extra int64 feeds (indices with named dims). */
  readonly ints?: Readonly<Record<string, { readonly shape: Shape; readonly values: readonly number[] }>>
  readonly opts?: GradOptions
  readonly eps?: number
  readonly tol?: number
}

/** Sizes of the named dims the cases use. */
const dims: Readonly<Record<string, number>> = { B: 2, L: 4 }
/** A shape's run-time sizes; `L-1` (from a slice of a named dim) is `L` less one. */
const concrete = (s: Shape): number[] =>
  s.map((d) => {
    if (typeof d === 'number') return d
    const [name, less] = d.split('-')
    return dims[name] - Number(less ?? 0)
  })

/** A seeded generator, so failures reproduce. */
const rng = mulberry32

const random = (next: () => number, shape: Shape, lo = -1, hi = 1): HostTensor<'float64'> => {
  const s = concrete(shape)
  return fromNumbers('float64', s, Array.from({ length: s.reduce((a, b) => a * b, 1) }, () => lo + (hi - lo) * next()))
}

const run = (g: Graph, feeds: Record<string, HostTensor>): Record<string, HostTensor> => {
  const r = evaluate(g, feeds)
  if (E.isLeft(r)) throw new Error(r.left.message)
  return r.right
}

const ints = (values: readonly number[], shape: readonly number[]): Tensor<'int64'> => D.constant(fromNumbers('int64', shape, values))

/** `loss = sum(f(xs) * r)` for a fixed random `r`; returns the graph and its feeds. */
const setup = (c: Case, seed: number): { g: Graph; xs: F64[]; feeds: Record<string, HostTensor> } => {
  const next = rng(seed)
  const xs = c.args.map((a) => D.input(a.name, 'float64', a.shape))
  const extra = Object.entries(c.ints ?? {}).map(([name, t]) => D.input(name, 'int64', t.shape))
  const y0 = c.f(...xs)
  const y = (y0.dtype === 'float64' ? y0 : D.cast(y0, 'float64')) as F64
  const r = D.input('r', 'float64', y.shape)
  const prod = D.mul(y, r)
  const loss = y.shape.length === 0 ? prod : D.sum(prod, y.shape.map((_, i) => i))
  const feeds: Record<string, HostTensor> = { r: random(next, y.shape) }
  c.args.forEach((a) => (feeds[a.name] = random(next, a.shape, a.lo, a.hi)))
  Object.entries(c.ints ?? {}).forEach(([name, t]) => (feeds[name] = fromNumbers('int64', concrete(t.shape), t.values)))
  return { g: graph(c.name, [...xs, ...extra, r], { loss }), xs, feeds }
}

/** Central differences of the loss with respect to every element of every arg. */
const numeric = (g: Graph, feeds: Record<string, HostTensor>, names: readonly string[], eps: number): Float64Array[] =>
  names.map((name) => {
    const base = feeds[name].data as Float64Array
    return Float64Array.from(base, (_, i) => {
      const at = (delta: number): number => {
        const data = base.slice()
        data[i] += delta
        return run(g, { ...feeds, [name]: { ...feeds[name], data } }).loss.data[0] as number
      }
      return (at(eps) - at(-eps)) / (2 * eps)
    })
  })

const checkCase = (c: Case, seed = 7): void => {
  const { g, xs, feeds } = setup(c, seed)
  assert.ok(topo(g).some((n) => n.op === c.op), `${c.name}: graph has no ${c.op}`)
  const gg = grad(g, 'loss', xs, c.opts)
  if (E.isLeft(gg)) throw new Error(`${c.name}: ${gg.left.message}`)
  assert.ok(E.isRight(verify(gg.right)), `${c.name}: the gradient graph does not verify`)
  const out = run(gg.right, feeds)
  const nums = numeric(g, feeds, c.args.map((a) => a.name), c.eps ?? 1e-6)
  c.args.forEach((a, k) => {
    const got = toNumbers(out[`grad.${a.name}`])
    assert.equal(out[`grad.${a.name}`].shape, concrete(a.shape), `${c.name}: shape of grad.${a.name}`)
    got.forEach((v, i) => {
      const want = nums[k][i]
      const ok = Math.abs(v - want) <= (c.tol ?? 1e-6) * Math.max(1, Math.abs(want))
      assert.ok(ok, `${c.name}: grad.${a.name}[${i}] = ${v}, finite differences give ${want}`)
    })
  })
}

// -------------------------------------------------------------------------------------
// cases: one or more per differentiable op
// -------------------------------------------------------------------------------------

const pos = { lo: 0.5, hi: 2 }

const cases: readonly Case[] = [
  { name: 'add named broadcast', op: 'Add', args: [{ name: 'a', shape: ['B', 3] }, { name: 'b', shape: [3] }], f: D.add },
  { name: 'add both broadcast', op: 'Add', args: [{ name: 'a', shape: [2, 1] }, { name: 'b', shape: [1, 3] }], f: D.add },
  { name: 'sub', op: 'Sub', args: [{ name: 'a', shape: [2, 3] }, { name: 'b', shape: ['B', 1, 3] }], f: D.sub },
  { name: 'mul B vs 1', op: 'Mul', args: [{ name: 'a', shape: ['B', 3] }, { name: 'b', shape: [1, 3] }], f: D.mul },
  { name: 'div', op: 'Div', args: [{ name: 'a', shape: [2, 3] }, { name: 'b', shape: [3], ...pos }], f: D.div },
  { name: 'max', op: 'Max', args: [{ name: 'a', shape: [2, 3] }, { name: 'b', shape: [2, 1] }], f: D.maximum },
  { name: 'min', op: 'Min', args: [{ name: 'a', shape: ['B', 3] }, { name: 'b', shape: [3] }], f: D.minimum },
  { name: 'pow', op: 'Pow', args: [{ name: 'a', shape: [2, 3], ...pos }, { name: 'b', shape: [3], ...pos }], f: D.pow },
  {
    name: 'where (the condition input gets zeros)',
    op: 'Where',
    args: [{ name: 'c', shape: ['B', 3] }, { name: 'a', shape: ['B', 3] }, { name: 'b', shape: [3] }],
    f: (c, a, b) => D.where(D.greater(c, 0), a, b)
  },
  { name: 'neg', op: 'Neg', args: [{ name: 'x', shape: [2, 3] }], f: D.neg },
  { name: 'exp', op: 'Exp', args: [{ name: 'x', shape: [2, 3] }], f: D.exp },
  { name: 'log', op: 'Log', args: [{ name: 'x', shape: [2, 3], ...pos }], f: D.log },
  { name: 'sqrt', op: 'Sqrt', args: [{ name: 'x', shape: [2, 3], ...pos }], f: D.sqrt },
  { name: 'tanh', op: 'Tanh', args: [{ name: 'x', shape: [2, 3] }], f: D.tanh },
  { name: 'erf', op: 'Erf', args: [{ name: 'x', shape: [2, 3] }], f: D.erf },
  { name: 'abs', op: 'Abs', args: [{ name: 'x', shape: [2, 3] }], f: D.abs },
  {
    name: 'cast through float32 (float32 rounding: larger eps)',
    op: 'Cast',
    args: [{ name: 'x', shape: [2, 3] }],
    f: (x) => D.mul(D.cast(D.mul(D.cast(x, 'float32'), 3), 'float64'), x),
    eps: 1e-2,
    tol: 1e-4
  },
  { name: 'matmul 2-D', op: 'MatMul', args: [{ name: 'a', shape: [2, 3] }, { name: 'b', shape: [3, 2] }], f: D.matmul },
  {
    name: 'matmul batch broadcast both ways',
    op: 'MatMul',
    args: [{ name: 'a', shape: ['B', 1, 2, 3] }, { name: 'b', shape: [2, 3, 4] }],
    f: D.matmul
  },
  {
    name: 'conv stride == kernel with bias',
    op: 'Conv',
    args: [{ name: 'x', shape: ['B', 2, 4, 6] }, { name: 'w', shape: [3, 2, 2, 3] }, { name: 'b', shape: [3] }],
    f: (x, w, b) => D.conv2d(x, w, b, [2, 3])
  },
  {
    name: 'conv overlapping windows (stride < kernel)',
    op: 'Conv',
    args: [{ name: 'x', shape: ['B', 2, 5, 6] }, { name: 'w', shape: [3, 2, 3, 2] }, { name: 'b', shape: [3] }],
    f: (x, w, b) => D.conv2d(x, w, b, [1, 2])
  },
  {
    name: 'conv with gaps and uncovered edges (stride > kernel, H - k not a multiple of the stride)',
    op: 'Conv',
    args: [{ name: 'x', shape: [2, 1, 7, 6] }, { name: 'w', shape: [2, 1, 2, 2] }],
    f: (x, w) => D.conv2d(x, w, undefined, [3, 3])
  },
  { name: 'reduce sum', op: 'ReduceSum', args: [{ name: 'x', shape: ['B', 3, 4] }], f: (x) => D.sum(x, 1) },
  { name: 'reduce mean over a named axis', op: 'ReduceMean', args: [{ name: 'x', shape: ['B', 3, 4] }], f: (x) => D.mean(x, [0, 2], true) },
  { name: 'reduce max', op: 'ReduceMax', args: [{ name: 'x', shape: ['B', 3, 4] }], f: (x) => D.max(x, [1, 2]) },
  { name: 'topk last axis', op: 'TopK', args: [{ name: 'x', shape: ['B', 5] }], f: (x) => D.topk(x, 3).values },
  { name: 'topk axis 0, smallest', op: 'TopK', args: [{ name: 'x', shape: [4, 3] }], f: (x) => D.topk(x, 2, 0, false).values },
  { name: 'softmax', op: 'Softmax', args: [{ name: 'x', shape: ['B', 4] }], f: (x) => D.softmax(x, -1) },
  { name: 'softmax axis 0', op: 'Softmax', args: [{ name: 'x', shape: [3, 4] }], f: (x) => D.softmax(x, 0) },
  { name: 'log softmax', op: 'LogSoftmax', args: [{ name: 'x', shape: ['B', 4] }], f: (x) => D.logSoftmax(x, 1) },
  {
    name: 'layer norm',
    op: 'LayerNormalization',
    args: [{ name: 'x', shape: ['B', 3, 4] }, { name: 'w', shape: [4] }, { name: 'b', shape: [4] }],
    f: (x, w, b) => D.layerNorm(x, w, b, 1e-5)
  },
  { name: 'reshape', op: 'Reshape', args: [{ name: 'x', shape: ['B', 2, 3] }], f: (x) => D.reshape(x, ['B', 6]) },
  { name: 'transpose', op: 'Transpose', args: [{ name: 'x', shape: [2, 3, 4] }], f: (x) => D.transpose(x, [2, 0, 1]) },
  {
    name: 'concat',
    op: 'Concat',
    args: [{ name: 'a', shape: ['B', 3] }, { name: 'b', shape: ['B', 1] }, { name: 'c', shape: ['B', 2] }],
    f: (a, b, c) => D.concat([a, b, c], 1)
  },
  {
    name: 'slice two axes, negative and clamped bounds',
    op: 'Slice',
    args: [{ name: 'x', shape: [4, 5] }],
    f: (x) => make('Slice', [x], { starts: [1, -4], ends: [3, 100], axes: [0, 1], steps: [1, 1] })
  },
  {
    name: 'slice up to a named dim (pos_embed[0:L])',
    op: 'Slice',
    args: [{ name: 'p', shape: [1, 6, 3] }, { name: 't', shape: ['B', 'L', 3] }],
    f: (p, t) => D.add(D.slice(p, 1, 0, 'L'), t)
  },
  {
    name: 'slice of a named axis to its end (X[:, 1:])',
    op: 'Slice',
    args: [{ name: 'x', shape: ['B', 'L', 3] }],
    f: (x) => D.sliceFrom(x, 1, 1),
    opts: { dimBounds: { L: 9 } }
  },
  {
    name: 'static window of a named axis',
    op: 'Slice',
    args: [{ name: 'x', shape: ['L', 3] }],
    f: (x) => D.slice(x, 0, 1, 3),
    opts: { dimBounds: { L: 4 } }
  },
  { name: 'expand', op: 'Expand', args: [{ name: 'x', shape: [3, 1] }], f: (x) => D.expand(x, ['B', 3, 4]) },
  { name: 'squeeze', op: 'Squeeze', args: [{ name: 'x', shape: ['B', 1, 3] }], f: (x) => D.squeeze(x, 1) },
  { name: 'unsqueeze', op: 'Unsqueeze', args: [{ name: 'x', shape: ['B', 3] }], f: (x) => D.unsqueeze(x, [0, 2]) },
  {
    name: 'gather axis 0 with repeats (embedding)',
    op: 'Gather',
    args: [{ name: 'x', shape: [5, 3] }],
    f: (x) => D.gather(x, ints([0, 2, 2, 4], [2, 2]), 0)
  },
  { name: 'gather axis 1', op: 'Gather', args: [{ name: 'x', shape: ['B', 4, 3] }], f: (x) => D.gather(x, ints([1, 1, 3], [3]), 1) },
  { name: 'gather scalar index', op: 'Gather', args: [{ name: 'x', shape: [2, 4, 3] }], f: (x) => D.gather(x, ints([2], []), 2) },
  {
    name: 'gather elements',
    op: 'GatherElements',
    args: [{ name: 'x', shape: [3, 4] }],
    f: (x) => D.gatherElements(x, ints([0, 3, 3, 3, 1, 0], [3, 2]), 1)
  },
  {
    name: 'gather nd, no batch dims',
    op: 'GatherND',
    args: [{ name: 'x', shape: [3, 4, 2] }],
    f: (x) => D.gatherND(x, ints([0, 1, 2, 3, 0, 1], [3, 2]), 0)
  },
  {
    name: 'gather nd, static batch dims',
    op: 'GatherND',
    args: [{ name: 'x', shape: [2, 4, 3] }],
    f: (x) => D.gatherND(x, ints([1, 3, 3, 0, 2, 2], [2, 3, 1]), 1)
  },
  {
    name: 'gather rows, named batch dims',
    op: 'GatherND',
    args: [{ name: 'x', shape: ['B', 4, 3] }],
    ints: { keep: { shape: ['B', 3], values: [0, 2, 3, 1, 1, 2] } },
    f: (x) => D.gatherRows(x, D.input('keep', 'int64', ['B', 3]))
  },
  {
    name: 'scatter nd add',
    op: 'ScatterNDAdd',
    args: [{ name: 'x', shape: [4, 3] }, { name: 'u', shape: [3, 3] }],
    f: (x, u) => D.scatterNDAdd(x, ints([1, 3, 1], [3, 1]), u)
  }
]

/** Ops with a float output (or none at all) that carry no gradient, and why. */
const nonDifferentiable: Readonly<Partial<Record<OpKind, string>>> = {
  Input: 'a leaf: gradients flow to it, not through it',
  Param: 'a leaf: gradients flow to it, not through it',
  Constant: 'a leaf with nothing to differentiate',
  Equal: 'bool output',
  Less: 'bool output',
  Greater: 'bool output',
  And: 'bool output',
  Not: 'bool output',
  StopGradient: 'stops the gradient by definition (its own test below)',
  ArgMax: 'int64 output',
  OneHot: 'its only input is int64 indices',
  MultiHeadAttention: 'fused inference op: fusions run after grad',
  SkipLayerNormalization: 'fused inference op: fusions run after grad',
  BiasGelu: 'fused inference op: fusions run after grad',
  DynamicQuantizeMatMul: 'fused inference op: fusions run after grad'
}

// -------------------------------------------------------------------------------------
// tests
// -------------------------------------------------------------------------------------

test('every op is gradient-checked or listed as non-differentiable', () => {
  const covered = new Set(cases.map((c) => c.op))
  for (const op of allOps) {
    const listed = nonDifferentiable[op] !== undefined
    assert.ok(covered.has(op) || listed, `${op} has no finite-difference case and is not listed as non-differentiable`)
    assert.ok(!(covered.has(op) && listed), `${op} is both checked and listed as non-differentiable`)
  }
})

for (const c of cases) test(`vjp: ${c.name}`, () => checkCase(c))

test('composite: 2-layer MLP with layer norm and softmax cross-entropy', () => {
  const x = D.input('x', 'float64', ['B', 4])
  const p = (name: string, shape: Shape): F64 => D.param(name, shape, 'float64')
  const h = D.tanh(D.layerNorm(D.linear(x, p('w1', [5, 4]), p('b1', [5])), p('ln.w', [5]), p('ln.b', [5]), 1e-5))
  const logits = D.linear(D.gelu(h), p('w2', [3, 5]), p('b2', [3]))
  const y = D.input('y', 'int64', ['B'])
  const labels = D.cast(D.oneHot(y, 3), 'float64')
  const loss = D.neg(D.mean(D.sum(D.mul(D.logSoftmax(logits, -1), labels), -1), 0))
  const g = graph('mlp', [x, y], { loss, logits })
  const next = rng(11)
  const shapes: Record<string, Shape> = { w1: [5, 4], b1: [5], 'ln.w': [5], 'ln.b': [5], w2: [3, 5], b2: [3] }
  const params = new Map(Object.entries(shapes).map(([k, s]) => [k, random(next, s)]))
  const feeds = { x: random(next, ['B', 4]), y: fromNumbers('int64', [2], [2, 0]) }
  const gg = grad(g, 'loss', 'params')
  if (E.isLeft(gg)) throw new Error(gg.left.message)
  const evalLoss = (ps: ReadonlyMap<string, HostTensor>): number => {
    const r = evaluate(g, feeds, ps)
    if (E.isLeft(r)) throw new Error(r.left.message)
    return r.right.loss.data[0] as number
  }
  const out = evaluate(gg.right, feeds, params)
  if (E.isLeft(out)) throw new Error(out.left.message)
  assert.equal(Object.keys(out.right).sort(), ['grad.b1', 'grad.b2', 'grad.ln.b', 'grad.ln.w', 'grad.w1', 'grad.w2', 'logits', 'loss'])
  for (const [name, t] of params) {
    const got = toNumbers(out.right[`grad.${name}`])
    Array.from(t.data as Float64Array).forEach((_, i) => {
      const at = (delta: number): number => {
        const data = (t.data as Float64Array).slice()
        data[i] += delta
        return evalLoss(new Map([...params, [name, { ...t, data }]]))
      }
      const want = (at(1e-6) - at(-1e-6)) / 2e-6
      assert.ok(Math.abs(got[i] - want) <= 1e-6 * Math.max(1, Math.abs(want)), `grad.${name}[${i}] = ${got[i]}, finite differences give ${want}`)
    })
  }
})

// -------------------------------------------------------------------------------------
// the transform's contract
// -------------------------------------------------------------------------------------

const scalarLoss = (x: F64): F64 => D.sum(D.mul(x, x), [0, 1])

test('grad keeps the original outputs and inputs', () => {
  const x = D.input('x', 'float64', [2, 2])
  const g = graph('sq', [x], { loss: scalarLoss(x), y: D.exp(x) })
  const gg = grad(g, 'loss', [x])
  assert.ok(E.isRight(gg))
  if (E.isRight(gg)) {
    assert.equal(gg.right.outputs.map((o) => o.name), ['loss', 'y', 'grad.x'])
    assert.is(gg.right.inputs, g.inputs)
  }
})

test('a wrt node the loss does not use gets zeros; a stopGradient drops a path', () => {
  const x = D.input('x', 'float64', [2, 2])
  const z = D.input('z', 'float64', ['B', 3])
  const g = graph('stop', [x, z], { loss: D.add(scalarLoss(x), D.sum(D.stopGradient(D.exp(x)), [0, 1])) })
  const gg = grad(g, 'loss', [x, z])
  if (E.isLeft(gg)) throw new Error(gg.left.message)
  const feeds = { x: fromNumbers('float64', [2, 2], [1, 2, 3, 4]), z: random(rng(1), ['B', 3]) }
  const out = run(gg.right, feeds)
  assert.equal(Array.from(toNumbers(out['grad.x'])), [2, 4, 6, 8])
  assert.equal(out['grad.z'].shape, [2, 3])
  assert.equal(Array.from(toNumbers(out['grad.z'])), [0, 0, 0, 0, 0, 0])
})

test('stopGradient: the value passes, the gradient does not, and the ONNX graph has no node for it', async () => {
  const x = D.input('x', 'float32', [3])
  // loss = sum(stop(2x) * x): the value is 2 sum(x^2), the gradient 2x (4x without the stop)
  const g = graph('stop-op', [x], { loss: D.sum(D.mul(D.stopGradient(D.mul(x, 2)), x), 0) })
  const gg = grad(g, 'loss', [x])
  if (E.isLeft(gg)) throw new Error(gg.left.message)
  const feeds = { x: fromNumbers('float32', [3], [1, -2, 3]) }
  for (const out of [run(gg.right, feeds), await runGraph(gg.right, feeds)]) {
    assert.equal(Array.from(toNumbers(out.loss)), [28])
    assert.equal(Array.from(toNumbers(out['grad.x'])), [2, -4, 6])
  }
})

test('ties: ReduceMax splits the gradient evenly, Max gives half to each side', () => {
  const x = D.input('x', 'float64', [4])
  const g = graph('ties', [x], { loss: D.add(D.max(x, 0), D.sum(D.maximum(x, 1), 0)) })
  const gg = grad(g, 'loss', [x])
  if (E.isLeft(gg)) throw new Error(gg.left.message)
  const out = run(gg.right, { x: fromNumbers('float64', [4], [1, 3, 3, 0]) })
  assert.equal(Array.from(toNumbers(out['grad.x'])), [0.5, 1.5, 1.5, 0])
})

test('the gathered Conv gradient (stride < kernel, batch named) runs in onnxruntime as in the interpreter (float32: ORT has no float64 Conv)', async () => {
  const [x, w, b] = [D.input('x', 'float32', ['B', 2, 5, 6]), D.input('w', 'float32', [3, 2, 3, 2]), D.input('b', 'float32', [3])]
  const y = D.conv2d(x, w, b, [1, 2])
  const r = D.input('r', 'float32', y.shape)
  const g = graph('conv32', [x, w, b, r], { loss: D.sum(D.mul(y, r), [0, 1, 2, 3]) })
  const gg = grad(g, 'loss', [x, w, b])
  if (E.isLeft(gg)) throw new Error(gg.left.message)
  const shapes: Record<string, number[]> = { x: [2, 2, 5, 6], w: [3, 2, 3, 2], b: [3], r: [2, 3, 3, 3] }
  const feeds = Object.fromEntries(Object.entries(shapes).map(([n, sh], k) => [n, randomTensor('float32', sh, 50 + k)]))
  const [got, want] = [await runGraph(gg.right, feeds), run(gg.right, feeds)]
  for (const name of ['grad.x', 'grad.w', 'grad.b']) {
    const [p, q] = [toNumbers(got[name]), toNumbers(want[name])]
    assert.equal(got[name].shape, want[name].shape, name)
    p.forEach((v, i) => assert.ok(Math.abs(v - q[i]) <= 1e-5 * Math.max(1, Math.abs(q[i])), `${name}[${i}]: ${v} vs ${q[i]}`))
  }
})

test('grad rejects a non-scalar loss, a missing output, a non-leaf wrt, an unbounded named slice', () => {
  const x = D.input('x', 'float64', [2, 2])
  const g = graph('bad', [x], { y: D.exp(x), loss: scalarLoss(x) })
  const msg = (r: E.Either<{ message: string }, unknown>): string => (E.isLeft(r) ? r.left.message : 'no error')
  assert.match(msg(grad(g, 'y', [x])), 'must be a float scalar')
  assert.match(msg(grad(g, 'nope', [x])), 'no output "nope"')
  assert.match(msg(grad(g, 'loss', [D.exp(x)])), 'float inputs and parameters')
  const t = D.input('t', 'float64', ['L', 2])
  const tail = graph('tail', [t], { loss: D.sum(D.sliceFrom(t, 0, 1), [0, 1]) })
  assert.match(msg(grad(tail, 'loss', [t])), 'needs an upper bound on L')
})

test.run()
