/**
 * Checks that two graphs compute the same thing: both are emitted to ONNX and run
 * through onnxruntime on the same feeds, and every output must agree in dtype, shape
 * and values (within 1e-5, relative to the magnitude). Used by the pass tests.
 * @since 0.1.0
 */
import * as E from 'fp-ts/lib/Either.js'
import * as assert from 'uvu/assert'
import { emitModel } from '../../compiler/emit/model.js'
import type { Graph } from '../../compiler/ir/graph.js'
import { staticShape } from '../../compiler/ir/infer.js'
import type { HostTensor } from '../../compiler/ir/tensor.js'
import { toNumbers } from '../../compiler/ir/tensor.js'
import { openSession } from '../../runtime/session.js'
import { randomTensor } from './random.js'

/** Feeds, by input name. */
export type Feeds = Readonly<Record<string, HostTensor>>

/** Agreement required of every element: |a - b| <= tolerance * (1 + |b|). */
export const tolerance = 1e-5

/** Seeded random feeds for every declared input of a graph (static shapes only). */
export const randomFeeds = (g: Graph, seed = 1): Record<string, HostTensor> =>
  Object.fromEntries(
    g.inputs.map((x, k) => {
      const shape = staticShape(x.shape)
      if (shape === null) throw new Error(`randomFeeds: input "${x.attrs.name}" has named dims`)
      return [x.attrs.name, randomTensor(x.dtype, shape, seed * 1000 + k)]
    })
  )

/**
 * Emits `g` with `params` as weights and runs it on the feeds its inputs name (feeds
 * for inputs it lacks are left out, so a graph that dropped an input still runs).
 */
export const runGraph = async (g: Graph, feeds: Feeds, params: ReadonlyMap<string, HostTensor> = new Map()): Promise<Record<string, HostTensor>> => {
  const emitted = emitModel(g, { weights: params })
  if (E.isLeft(emitted)) throw new Error(`emit ${g.name}: ${emitted.left.message}`)
  const session = await openSession(emitted.right.model)()
  if (E.isLeft(session)) throw new Error(`open ${g.name}: ${session.left.message}`)
  const s = session.right
  const mine = Object.fromEntries(s.inputNames.filter((n) => n in feeds).map((n) => [n, feeds[n]]))
  const out = await s.run(mine)()
  await s.release()()
  if (E.isLeft(out)) throw new Error(`run ${g.name}: ${out.left.message}`)
  return out.right
}

/** Asserts that `before` and `after` give the same outputs on `feeds`. */
export const assertSameOutputs = async (before: Graph, after: Graph, feeds: Feeds, params?: ReadonlyMap<string, HostTensor>): Promise<void> => {
  const [a, b] = await Promise.all([runGraph(before, feeds, params), runGraph(after, feeds, params)])
  assert.equal(Object.keys(b).sort(), Object.keys(a).sort(), 'output names')
  for (const name of Object.keys(a)) {
    assert.is(b[name].dtype, a[name].dtype, `dtype of ${name}`)
    assert.equal(b[name].shape, a[name].shape, `shape of ${name}`)
    const x = toNumbers(a[name])
    const y = toNumbers(b[name])
    for (let i = 0; i < x.length; i++) {
      const ok = Math.abs(x[i] - y[i]) <= tolerance * (1 + Math.abs(x[i])) || (Number.isNaN(x[i]) && Number.isNaN(y[i]))
      if (!ok) assert.unreachable(`${name}[${i}]: ${x[i]} before, ${y[i]} after`)
    }
  }
}
