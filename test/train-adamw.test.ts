/**
 * The AdamW train-step transform against AdamW computed by hand (PyTorch's formulas),
 * in the reference interpreter and on onnxruntime: moments, bias correction, decoupled
 * weight decay on matrices only, global-norm clipping, the step counter, projections.
 */
import * as E from 'fp-ts/lib/Either.js'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { evaluate } from '../compiler/eval/evaluate.js'
import type { HostTensor } from '../compiler/ir/tensor.js'
import type { AdamWOptions } from '../compiler/train/adamw.js'
import { adamwStep, trainNames } from '../compiler/train/adamw.js'
import * as d from '../dsl/index.js'
import { compileTraining } from '../apps/train/compile.js'
import { openSession } from '../runtime/session.js'

const get = <A>(e: E.Either<{ message: string }, A>): A => {
  if (E.isLeft(e)) throw new Error(e.left.message)
  return e.right
}
const f32 = (shape: number[], values: number[]): HostTensor => ({ dtype: 'float32', shape, data: Float32Array.from(values) })

/** loss = 0.5 |W|^2 + b . x + 0.5 s^2: gradients W, x and s, easy to write by hand. */
const lossGraph = (): d.Graph => {
  const x = d.input('x', 'float32', [2])
  const W = d.param('W', [2, 2])
  const b = d.param('b', [2])
  const s = d.param('s', [])
  const loss = d.add(d.add(d.mul(d.sum(d.mul(W, W), [0, 1]), 0.5), d.sum(d.mul(b, x), 0)), d.mul(d.mul(s, s), 0.5))
  return d.graph('toy', [x], { loss })
}

type Params = Record<string, number[]>
const start: Params = { W: [0.5, -1, 2, 0.25], b: [1, -2], s: [3] }
const x = [0.3, -0.7]

/** One AdamW step by hand, in float64. */
const byHand = (p: Params, m: Params, v: Params, t: number, lr: number, o: AdamWOptions): { p: Params; m: Params; v: Params; norm: number } => {
  const g: Params = { W: [...p.W], b: [...x], s: [...p.s] }
  const norm = Math.sqrt(Object.values(g).flat().reduce((a, y) => a + y * y, 0))
  const scale = o.clipNorm === undefined ? 1 : Math.min(1, o.clipNorm / (norm + 1e-6))
  const out = { p: {} as Params, m: {} as Params, v: {} as Params, norm }
  for (const k of Object.keys(p)) {
    const gk = g[k].map((y) => y * scale)
    out.m[k] = m[k].map((mi, i) => o.beta1 * mi + (1 - o.beta1) * gk[i])
    out.v[k] = v[k].map((vi, i) => o.beta2 * vi + (1 - o.beta2) * gk[i] ** 2)
    const decay = k === 'W' ? o.weightDecay : 0 // matrices only
    out.p[k] = p[k].map((pi, i) => {
      const mh = out.m[k][i] / (1 - o.beta1 ** t)
      const vh = out.v[k][i] / (1 - o.beta2 ** t)
      return pi - lr * decay * pi - (lr * mh) / (Math.sqrt(vh) + o.eps)
    })
  }
  return out
}

const shapes: Record<string, number[]> = { W: [2, 2], b: [2], s: [] }

/** Feeds of one step: parameters, moments, step, learning rate and x. */
const feedsOf = (p: Params, m: Params, v: Params, step: number, lr: number): Record<string, HostTensor> => {
  const feeds: Record<string, HostTensor> = { x: f32([2], x), lr: f32([], [lr]), [trainNames.step]: { dtype: 'int64', shape: [], data: BigInt64Array.from([BigInt(step)]) } }
  for (const k of Object.keys(p)) {
    feeds[k] = f32(shapes[k], p[k])
    feeds[trainNames.m(k)] = f32(shapes[k], m[k])
    feeds[trainNames.v(k)] = f32(shapes[k], v[k])
  }
  return feeds
}

const close = (got: ArrayLike<number | bigint>, want: readonly number[], what: string, tol = 2e-6): void => {
  assert.is(got.length, want.length, what)
  for (let i = 0; i < want.length; i++) assert.ok(Math.abs(Number(got[i]) - want[i]) <= tol * Math.max(1, Math.abs(want[i])), `${what}[${i}]: ${got[i]} vs ${want[i]}`)
}

/** The reference interpreter on the feeds, with the parameters passed as parameters. */
const interpret = (g: d.Graph, feeds: Record<string, HostTensor>): Record<string, HostTensor> =>
  get(evaluate(g, feeds, new Map(Object.keys(shapes).map((k) => [k, feeds[k]]))))

const zerosLike = (p: Params): Params => Object.fromEntries(Object.entries(p).map(([k, a]) => [k, a.map(() => 0)]))

for (const [label, opts] of [
  ['no clipping', { beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.1 }],
  ['global-norm clipping', { beta1: 0.8, beta2: 0.99, eps: 1e-6, weightDecay: 0.05, clipNorm: 0.5 }]
] as const) {
  test(`three steps match AdamW by hand (${label})`, async () => {
    const step = get(adamwStep(lossGraph(), 'loss', opts))
    assert.equal(step.params.map((p) => p.name).sort(), ['W', 'b', 's'])
    const session = get(await openSession(get(compileTraining(step.graph)).model)())
    let [p, m, v] = [start, zerosLike(start), zerosLike(start)]
    for (let t = 1; t <= 3; t++) {
      const lr = 0.1 / t
      const want = byHand(p, m, v, t, lr, opts)
      const feeds = feedsOf(p, m, v, t - 1, lr)
      const interp = interpret(step.graph, feeds)
      const ort = get(await session.run(feeds)())
      for (const out of [interp, ort]) {
        close(out[trainNames.gradNorm].data, [want.norm], 'grad_norm')
        assert.equal([...(out[trainNames.next(trainNames.step)].data as BigInt64Array)], [BigInt(t)])
        for (const k of Object.keys(p)) {
          close(out[trainNames.next(k)].data, want.p[k], `step ${t} ${k}`)
          close(out[trainNames.next(trainNames.m(k))].data, want.m[k], `step ${t} m.${k}`)
          close(out[trainNames.next(trainNames.v(k))].data, want.v[k], `step ${t} v.${k}`)
        }
      }
      const read = (name: (k: string) => string): Params => Object.fromEntries(Object.keys(p).map((k) => [k, [...(ort[name(k)].data as Float32Array)]]))
      ;[p, m, v] = [read(trainNames.next), read((k) => trainNames.next(trainNames.m(k))), read((k) => trainNames.next(trainNames.v(k)))]
    }
  })
}

test('a parameter no gradient reaches (used through a StopGradient) comes back unchanged, moments and all, even with weight decay', async () => {
  // loss = 0.5 |W|^2 + stop(b) . x: b is used, but nothing trains it
  const g = (): d.Graph => {
    const xi = d.input('x', 'float32', [2])
    const W = d.param('W', [2, 2])
    const b = d.param('b', [2, 2])
    return d.graph('stopped', [xi], { loss: d.add(d.mul(d.sum(d.mul(W, W), [0, 1]), 0.5), d.sum(d.matmul(d.stopGradient(b), d.reshape(xi, [2, 1])), [0, 1])) })
  }
  const step = get(adamwStep(g(), 'loss', { beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.1 }))
  assert.equal(step.params.map((p) => p.name), ['W', 'b'], 'both are fed')
  const b = f32([2, 2], [1, -2, 3, 0.5])
  const [mb, vb] = [f32([2, 2], [0.1, 0.2, 0.3, 0.4]), f32([2, 2], [1, 2, 3, 4])]
  const feeds: Record<string, HostTensor> = {
    x: f32([2], x), lr: f32([], [0.1]), [trainNames.step]: { dtype: 'int64', shape: [], data: BigInt64Array.from([0n]) },
    W: f32([2, 2], start.W), [trainNames.m('W')]: f32([2, 2], [0, 0, 0, 0]), [trainNames.v('W')]: f32([2, 2], [0, 0, 0, 0]),
    b, [trainNames.m('b')]: mb, [trainNames.v('b')]: vb
  }
  const session = get(await openSession(get(compileTraining(step.graph)).model)())
  const interp = get(evaluate(step.graph, feeds, new Map([['W', feeds.W], ['b', b]])))
  for (const out of [interp, get(await session.run(feeds)())]) {
    assert.equal([...(out[trainNames.next('b')].data as Float32Array)], [...b.data])
    assert.equal([...(out[trainNames.next(trainNames.m('b'))].data as Float32Array)], [...mb.data])
    assert.equal([...(out[trainNames.next(trainNames.v('b'))].data as Float32Array)], [...vb.data])
    assert.not.equal([...(out[trainNames.next('W')].data as Float32Array)], start.W, 'W is trained')
    close(out[trainNames.gradNorm].data, [Math.sqrt(start.W.reduce((a, w) => a + w * w, 0))], 'grad_norm counts W alone')
  }
})

test('a projection maps the updated value; bad options and names are errors', () => {
  const step = get(adamwStep(lossGraph(), 'loss', { beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, project: (n, y) => (n === 's' ? d.minimum(y, 1) : y) }))
  const out = interpret(step.graph, feedsOf(start, zerosLike(start), zerosLike(start), 0, 0.01))
  close(out[trainNames.next('s')].data, [1], 'clamped s')
  assert.ok(E.isLeft(adamwStep(lossGraph(), 'nope')))
  assert.ok(E.isLeft(adamwStep(lossGraph(), 'loss', { beta1: 1, beta2: 0.999, eps: 1e-8, weightDecay: 0 })))
  const vec = d.graph('vec', [], { loss: d.mul(d.param('q', [2]), 2) })
  assert.match(E.isLeft(adamwStep(vec, 'loss')) ? (adamwStep(vec, 'loss') as E.Left<{ message: string }>).left.message : '', /must be a float32 scalar/)
})

test.run()
