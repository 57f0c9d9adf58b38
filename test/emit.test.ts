import { execFileSync } from 'node:child_process'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { fileURLToPath } from 'node:url'
import * as E from 'fp-ts/lib/Either.js'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import pkg from 'onnx-proto'
import type { CmgaError } from '../compiler/errors.js'
import { emitModel, writeModel, type EmitOptions, type EmittedModel } from '../compiler/emit/model.js'
import type { Graph } from '../compiler/ir/graph.js'
import type { HostTensor } from '../compiler/ir/tensor.js'
import { fromNumbers, toNumbers } from '../compiler/ir/tensor.js'
import * as d from '../dsl/index.js'
import { openSession, type Session } from '../runtime/session.js'
import { checkModel } from './support/onnx-check.js'
import { randomTensor } from './support/random.js'
import { right } from './support/right.js'

const { onnx } = pkg

// -------------------------------------------------------------------------------------
// helpers
// -------------------------------------------------------------------------------------

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'cmga-emit-'))
test.after(() => fs.rmSync(tmp, { recursive: true, force: true }))

const leftOf = <A>(r: E.Either<CmgaError, A>): CmgaError => {
  if (E.isRight(r)) throw new Error('expected a Left')
  return r.left
}

/** Emits, writes, runs the ONNX checker on the file and opens an ORT session on it. */
const load = async (g: Graph, opts: EmitOptions = {}): Promise<{ emitted: EmittedModel; session: Session }> => {
  const emitted = right(emitModel(g, opts))
  const file = path.join(tmp, `${g.name}-${Math.random().toString(36).slice(2)}.onnx`)
  fs.writeFileSync(file, emitted.model)
  checkModel(file)
  const session = right(await openSession(emitted.model)())
  return { emitted, session }
}

const close = (a: readonly number[] | Float64Array, b: readonly number[] | Float64Array, tol = 1e-5): boolean =>
  a.length === b.length && Array.from(a).every((x, i) => Math.abs(x - b[i]) <= tol * (1 + Math.abs(b[i])))

/** A little MLP over a batch of named size B. */
const mlp = (name = 'mlp'): Graph => {
  const x = d.input('x', 'float32', ['B', 4])
  const h = d.gelu(d.linear(x, d.param('w1', [8, 4]), d.param('b1', [8])))
  const y = d.softmax(d.linear(h, d.param('w2', [3, 8]), d.param('b2', [3])))
  return d.graph(name, [x], { y, h })
}

const mlpWeights = (): Map<string, HostTensor> =>
  new Map([
    ['w1', randomTensor('float32', [8, 4], 1)],
    ['b1', randomTensor('float32', [8], 2)],
    ['w2', randomTensor('float32', [3, 8], 3)],
    ['b2', randomTensor('float32', [3], 4)]
  ])

// -------------------------------------------------------------------------------------
// determinism
// -------------------------------------------------------------------------------------

test('the same graph emits identical bytes', () => {
  const a = right(emitModel(mlp(), { weights: mlpWeights() })).model
  const b = right(emitModel(mlp(), { weights: mlpWeights() })).model
  assert.ok(Buffer.from(a).equals(Buffer.from(b)))
})

test('a graph built in a fresh order in a fresh process emits identical bytes', () => {
  const here = fileURLToPath(new URL('.', import.meta.url))
  const dsl = path.join(here, '../dsl/index.ts')
  const model = path.join(here, '../compiler/emit/model.ts')
  // Same structure, but the branches and parameters are created in another order, after
  // unrelated nodes: the node ids all differ from this process's.
  const code = `
    import * as d from ${JSON.stringify(dsl)}
    import { emitModel } from ${JSON.stringify(model)}
    d.exp(d.input('unrelated', 'float64', [7]))
    const b2 = d.param('b2', [3]); const w2 = d.param('w2', [3, 8])
    const b1 = d.param('b1', [8]); const w1 = d.param('w1', [8, 4])
    const x = d.input('x', 'float32', ['B', 4])
    const h = d.gelu(d.linear(x, w1, b1))
    const y = d.softmax(d.linear(h, w2, b2))
    const r = emitModel(d.graph('mlp', [x], { y, h }))
    process.stdout.write(Buffer.from(r.right.model).toString('base64'))
  `
  const out = execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], { encoding: 'utf8' })
  const here_ = right(emitModel(mlp())).model
  assert.ok(Buffer.from(out, 'base64').equals(Buffer.from(here_)))
})

// -------------------------------------------------------------------------------------
// structure
// -------------------------------------------------------------------------------------

test('model header, named dims as dim_param, value_info for intermediates', () => {
  const m = onnx.ModelProto.decode(right(emitModel(mlp(), { docString: 'tiny' })).model)
  assert.is(Number(m.irVersion), 8)
  assert.equal(m.opsetImport.map((o) => [o.domain, Number(o.version)]), [['', 17]])
  assert.is(m.producerName, 'cmga')
  assert.is(m.producerVersion, JSON.parse(fs.readFileSync(new URL('../package.json', import.meta.url), 'utf8')).version)
  assert.is(m.docString, 'tiny')
  const g = m.graph as pkg.onnx.GraphProto
  assert.is(g.name, 'mlp')
  // without weights, parameters are graph inputs after the declared ones, by name
  assert.equal(g.input.map((i) => i.name), ['x', 'b1', 'b2', 'w1', 'w2'])
  assert.equal(g.output.map((o) => o.name), ['y', 'h'])
  const firstDim = (v: pkg.onnx.IValueInfoProto): pkg.onnx.TensorShapeProto.IDimension => v.type?.tensorType?.shape?.dim?.[0] ?? {}
  assert.is(firstDim(g.input[0]).dimParam, 'B')
  for (const o of g.output) assert.is(firstDim(o).dimParam, 'B')
  assert.ok(g.valueInfo.length >= 5)
  const shapes = g.valueInfo.map((v) => (v.type?.tensorType?.shape?.dim ?? []).map((x) => x.dimParam || Number(x.dimValue)).join(','))
  // the transposed weights are static; everything else carries the batch
  for (const s of shapes) assert.ok(s.startsWith('B,') || s === '4,8' || s === '8,3', s)
  assert.ok(shapes.filter((s) => s.startsWith('B,')).length >= 4)
  const named = new Set([...g.input, ...g.output, ...g.valueInfo].map((v) => v.name))
  for (const n of g.node) for (const o of n.output ?? []) assert.ok(named.has(o), `value ${o} of ${n.opType} has a type`)
})

test('emitted MLP passes the checker, runs in ORT and matches a hand computation', async () => {
  const weights = mlpWeights()
  const { session } = await load(mlp(), { weights })
  assert.equal([...session.inputNames], ['x'])
  const x = randomTensor('float32', [5, 4], 9)
  const out = right(await session.run({ x })())
  assert.equal(out.y.shape, [5, 3])
  const [w1, b1, w2, b2] = ['w1', 'b1', 'w2', 'b2'].map((k) => toNumbers(weights.get(k) as HostTensor))
  const xs = toNumbers(x)
  for (let r = 0; r < 5; r++) {
    const h = Array.from({ length: 8 }, (_, j) => {
      let s = b1[j]
      for (let k = 0; k < 4; k++) s += xs[r * 4 + k] * w1[j * 4 + k]
      return 0.5 * s * (1 + erf(s / Math.SQRT2))
    })
    const z = Array.from({ length: 3 }, (_, j) => h.reduce((acc, v, k) => acc + v * w2[j * 8 + k], b2[j]))
    const m = Math.max(...z)
    const e = z.map((v) => Math.exp(v - m))
    const y = e.map((v) => v / e.reduce((p, q) => p + q, 0))
    assert.ok(close(toNumbers(out.y).slice(r * 3, r * 3 + 3), y, 1e-4), `row ${r}`)
  }
})

/** erf from Numerical Recipes' erfc approximation (fractional error below 1.2e-7). */
const erf = (x: number): number => {
  const t = 1 / (1 + 0.5 * Math.abs(x))
  const y =
    1 -
    t *
      Math.exp(
        -x * x - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277))))))))
      )
  return x >= 0 ? y : -y
}

test('outputs that are inputs, parameters, constants or shared get their own Identity', async () => {
  const x = d.input('x', 'float32', ['B', 2])
  const e = d.exp(x)
  const g = d.graph('aliases', [x], { same: x, e1: e, e2: e, pp: d.param('p', [2]), c: d.vector([1, 2], 'float32') })
  const { session } = await load(g)
  assert.equal([...session.outputNames], ['same', 'e1', 'e2', 'pp', 'c'])
  const xv = randomTensor('float32', [3, 2], 5)
  const pv = randomTensor('float32', [2], 6)
  const out = right(await session.run({ x: xv, p: pv })())
  assert.equal(Array.from(out.same.data as Float32Array), Array.from(xv.data))
  assert.equal(Array.from(out.e1.data as Float32Array), Array.from(out.e2.data as Float32Array))
  assert.equal(Array.from(out.pp.data as Float32Array), Array.from(pv.data))
  assert.equal(Array.from(out.c.data as Float32Array), [1, 2])
})

test('TopK values and indices share one ONNX node', () => {
  const x = d.input('x', 'float32', ['B', 6])
  const { values, indices } = d.topk(x, 2)
  const m = onnx.ModelProto.decode(right(emitModel(d.graph('topk', [x], { values, indices }))).model)
  assert.is(m.graph?.node?.filter((n) => n.opType === 'TopK').length, 1)
})

// -------------------------------------------------------------------------------------
// external data
// -------------------------------------------------------------------------------------

test('external data: aligned offsets, loads from a file, same outputs as inline', async () => {
  const x = d.input('x', 'float32', ['B', 64])
  const y = d.tanh(d.linear(d.linear(x, d.param('w1', [64, 64]), d.param('b1', [64])), d.param('w2', [32, 64]), d.param('b2', [32])))
  const g = d.graph('big', [x], { y })
  const weights = new Map([
    ['w1', randomTensor('float32', [64, 64], 11)],
    ['b1', randomTensor('float32', [64], 12)],
    ['w2', randomTensor('float32', [32, 64], 13)],
    ['b2', randomTensor('float32', [32], 14)]
  ])
  const ext = right(emitModel(g, { weights, externalData: { fileName: 'big.data', thresholdBytes: 1000 } }))
  assert.ok(ext.external !== undefined)
  const inits = onnx.ModelProto.decode(ext.model).graph?.initializer ?? []
  const external = inits.filter((t) => t.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL)
  assert.equal(external.map((t) => t.name), ['w1', 'w2'])
  for (const t of external) {
    const entry = (k: string): string | undefined => (t.externalData ?? []).find((e) => e.key === k)?.value ?? undefined
    assert.is(entry('location'), 'big.data')
    assert.is(Number(entry('offset')) % 4096, 0)
    assert.is(Number(entry('length')), ((t.dims ?? []).map(Number).reduce((a, b) => a * b, 1)) * 4)
  }
  const dir = fs.mkdtempSync(path.join(tmp, 'ext-'))
  const file = path.join(dir, 'big.onnx')
  right(writeModel(file, g, { weights, externalData: { fileName: 'big.data', thresholdBytes: 1000 } }))
  assert.ok(fs.existsSync(path.join(dir, 'big.data')))
  assert.equal(fs.readdirSync(dir).sort(), ['big.data', 'big.onnx'])
  checkModel(file)
  const fromFile = right(await openSession(file)())
  const inline = (await load(g, { weights })).session
  const xv = randomTensor('float32', [3, 64], 15)
  const a = right(await fromFile.run({ x: xv })())
  const b = right(await inline.run({ x: xv })())
  assert.equal(Array.from(a.y.data as Float32Array), Array.from(b.y.data as Float32Array))
})

// -------------------------------------------------------------------------------------
// errors
// -------------------------------------------------------------------------------------

test('session errors: missing, unknown and mis-typed feeds; ORT failures', async () => {
  const x = d.input('x', 'float32', ['B', 3])
  const i = d.input('i', 'int64', ['B'])
  const g = d.graph('feeds', [x, i], { y: d.gather(x, i, 1) })
  const { session } = await load(g)
  const xv = randomTensor('float32', [2, 3], 1)
  const iv = fromNumbers('int64', [2], [0, 2])
  const missing = leftOf(await session.run({ x: xv })())
  assert.is(missing.kind, 'input')
  assert.match(missing.message, /missing feeds: "i"/)
  const unknown = leftOf(await session.run({ x: xv, i: iv, z: iv })())
  assert.is(unknown.kind, 'input')
  assert.match(unknown.message, /unknown feeds: "z"/)
  const dtype = leftOf(await session.run({ x: fromNumbers('float64', [2, 3], [1, 2, 3, 4, 5, 6]), i: iv })())
  assert.is(dtype.kind, 'input')
  assert.match(dtype.message, /feed "x": expected dtype float32, got float64/)
  const shape = leftOf(await session.run({ x: randomTensor('float32', [2, 4], 1), i: iv })())
  assert.match(shape.message, /feed "x": expected shape \[B, 3\], got \[2, 4\]/)
  const range = leftOf(await session.run({ x: xv, i: fromNumbers('int64', [2], [0, 7]) })())
  assert.is(range.kind, 'runtime')
  assert.ok(range.message.length > 0)
  const ok = right(await session.run({ x: xv, i: iv }, ['y'])())
  assert.equal(ok.y.shape, [2, 2])
  const bad = leftOf(await openSession(new Uint8Array([1, 2, 3]))())
  assert.is(bad.kind, 'runtime')
})

test('a weight of the wrong shape or dtype is a Left naming the parameter', () => {
  const w = mlpWeights()
  w.set('w2', randomTensor('float32', [8, 3], 1))
  const e = leftOf(emitModel(mlp(), { weights: w }))
  assert.is(e.kind, 'weights')
  assert.match(e.message, /"w2"/)
  const v = mlpWeights()
  v.set('b1', randomTensor('float64', [8], 1))
  assert.match(leftOf(emitModel(mlp(), { weights: v })).message, /"b1".*float32\[8\].*float64\[8\]/)
})

test('graphs the verifier rejects, and outputs named like inputs, are Lefts', () => {
  const x = d.input('x', 'float32', [2])
  const undeclared = d.graph('undeclared', [], { y: d.exp(x) })
  assert.is(leftOf(emitModel(undeclared)).kind, 'verify')
  assert.is(leftOf(emitModel(d.graph('clash', [x], { x: d.exp(x) }))).kind, 'verify')
})

test.run()
