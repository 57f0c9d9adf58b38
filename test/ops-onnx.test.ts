/**
 * Every op kind, lowered to ONNX and run in onnxruntime, agrees with the float64
 * reference interpreter. Graphs use the named batch dim B (and T), so the named-dim
 * paths of Reshape, Expand and Slice are exercised; float ops run in float32.
 */
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { emitModel } from '../compiler/emit/model.js'
import { evaluate } from '../compiler/eval/evaluate.js'
import type { Graph } from '../compiler/ir/graph.js'
import { topo } from '../compiler/ir/graph.js'
import { make } from '../compiler/ir/node.js'
import type { DType } from '../compiler/ir/dtype.js'
import { allOps, type OpKind } from '../compiler/ir/ops.js'
import { fromNumbers, toNumbers, type HostTensor } from '../compiler/ir/tensor.js'
import * as d from '../dsl/index.js'
import { openSession } from '../runtime/session.js'
import { checkModels } from './support/onnx-check.js'
import { randomTensor, type Range } from './support/random.js'
import { WEIGHT_RANGE } from '../compiler/quantize/dynamic-int8.js'
import { right } from './support/right.js'

// -------------------------------------------------------------------------------------
// cases
// -------------------------------------------------------------------------------------

/** Run-time sizes of the named dims. */
const B = 3
const T = 5

interface Case {
  readonly name: string
  readonly graph: Graph
  /** Values of inputs and of parameters given as graph inputs. */
  readonly feeds: Record<string, HostTensor>
  /** Parameters emitted as initializers. */
  readonly weights?: ReadonlyMap<string, HostTensor>
}

let seed = 1
const size = (s: d.Shape): number[] => s.map((x) => (x === 'B' ? B : x === 'T' ? T : (x as number)))

/** A graph input with its random feed. */
const inp = <D extends DType>(feeds: Record<string, HostTensor>, name: string, dtype: D, shape: d.Shape, range?: Range): d.Tensor<D> => {
  feeds[name] = randomTensor(dtype, size(shape), seed++, range)
  return d.input(name, dtype, shape)
}

/** A case from a builder that declares inputs through `inp`. */
const mk = (name: string, build: (f: Record<string, HostTensor>) => Record<string, d.Tensor>, weights?: ReadonlyMap<string, HostTensor>): Case => {
  const feeds: Record<string, HostTensor> = {}
  const outputs = build(feeds)
  const inputs = topo(d.graph(name, [], outputs)).filter((n): n is d.InputTensor => n.op === 'Input')
  return { name, graph: d.graph(name, inputs, outputs), feeds, weights }
}

const f32 = 'float32'
const i64 = 'int64'
const binaryFloat = ['Add', 'Sub', 'Mul', 'Div', 'Max', 'Min', 'Pow'] as const

const cases: Case[] = [
  mk('Input', (f) => ({ y: inp(f, 'x', f32, ['B', 4]) })),
  mk('Param', (f) => {
    f.v = randomTensor(f32, [4], 98) // a parameter without a weight is a graph input
    return { y: d.add(d.mul(inp(f, 'x', f32, ['B', 4]), d.param('w', [4])), d.param('v', [4])) }
  }, new Map([['w', randomTensor(f32, [4], 99)]])),
  mk('Constant', (f) => ({ y: d.sub(inp(f, 'x', f32, ['B', 2]), d.constant(fromNumbers(f32, [2], [0.25, -3]))), c: d.vector([1, 2, 3], 'int64') })),
  ...binaryFloat.map((op) =>
    mk(op, (f) => {
      const range = op === 'Pow' ? { low: 0.5, high: 2 } : op === 'Div' ? { low: 0.5, high: 2 } : undefined
      const a = inp(f, 'a', f32, ['B', 1, 4], range)
      return { y: make(op, [a, inp(f, 'b', f32, [3, 4], op === 'Div' ? range : undefined)], {}) }
    })
  ),
  ...(['Add', 'Sub', 'Mul', 'Max', 'Min'] as const).map((op) =>
    mk(`${op} int64`, (f) => ({ y: make(op, [inp(f, 'a', i64, ['B', 4], { low: -9, high: 9 }), inp(f, 'b', i64, [4], { low: -9, high: 9 })], {}) }))
  ),
  ...(['Equal', 'Less', 'Greater'] as const).map((op) =>
    mk(op, (f) => ({
      y: make(op, [inp(f, 'a', i64, ['B', 4], { low: 0, high: 3 }), inp(f, 'b', i64, [4], { low: 0, high: 3 })], {}),
      z: make(op, [inp(f, 'c', f32, ['B', 4]), inp(f, 'e', f32, ['B', 1])], {})
    }))
  ),
  mk('Equal bool', (f) => ({ y: d.equal(inp(f, 'a', 'bool', ['B', 4]), inp(f, 'b', 'bool', ['B', 4])) })),
  mk('And', (f) => ({ y: d.and(inp(f, 'a', 'bool', ['B', 4]), inp(f, 'b', 'bool', [4])) })),
  mk('Where', (f) => ({ y: d.where(inp(f, 'c', 'bool', ['B', 4]), inp(f, 'a', f32, ['B', 4]), inp(f, 'b', f32, [4])) })),
  ...(['Neg', 'Exp', 'Log', 'Sqrt', 'Tanh', 'Erf', 'Abs'] as const).map((op) =>
    mk(op, (f) => ({ y: make(op, [inp(f, 'x', f32, ['B', 6], op === 'Log' || op === 'Sqrt' ? { low: 0.01, high: 4 } : { low: -3, high: 3 })], {}) }))
  ),
  mk('StopGradient', (f) => {
    const x = inp(f, 'x', f32, ['B', 3])
    return { y: d.stopGradient(x), z: d.exp(d.stopGradient(x)) } // an output that is the identity of an input, and one computed from it
  }),
  mk('Neg Abs int64', (f) => ({ y: d.neg(inp(f, 'x', i64, ['B', 3], { low: -5, high: 5 })), z: d.abs(inp(f, 'u', i64, ['B'], { low: -5, high: 5 })) })),
  mk('Not', (f) => ({ y: d.not(inp(f, 'x', 'bool', ['B', 4])) })),
  mk('Cast', (f) => {
    const x = inp(f, 'x', f32, ['B', 4], { low: -4, high: 4 })
    const i = inp(f, 'i', i64, ['B', 4], { low: -4, high: 4 })
    return { toInt: d.cast(x, 'int64'), toBool: d.cast(i, 'bool'), fromInt: d.cast(i, 'float32'), toF64: d.cast(x, 'float64'), fromBool: d.cast(d.cast(i, 'bool'), 'float32') }
  }),
  mk('MatMul', (f) => ({
    y: d.matmul(inp(f, 'a', f32, ['B', 3, 4]), inp(f, 'b', f32, [4, 5])),
    z: d.matmul(inp(f, 'c', f32, ['B', 1, 2, 3]), inp(f, 'e', f32, [4, 3, 2]))
  })),
  mk('Conv', (f) => {
    const x = inp(f, 'x', f32, ['B', 2, 7, 6])
    return { y: d.conv2d(x, inp(f, 'w', f32, [3, 2, 3, 2]), inp(f, 'b', f32, [3]), [2, 2]), z: d.conv2d(x, inp(f, 'v', f32, [4, 2, 2, 2]), undefined, [1, 1]) }
  }),
  ...(['ReduceSum', 'ReduceMean', 'ReduceMax'] as const).map((op) =>
    mk(op, (f) => {
      const x = inp(f, 'x', f32, ['B', 4, 5])
      return {
        y: make(op, [x], { axes: [1], keepdims: false }),
        z: make(op, [x], { axes: [0, 2], keepdims: true }),
        all: make(op, [x], { axes: [0, 1, 2], keepdims: false }),
        none: make(op, [x], { axes: [], keepdims: false })
      }
    })
  ),
  mk('ArgMax', (f) => {
    const x = inp(f, 'x', f32, ['B', 6, 2])
    return { y: d.argmax(x, 1), z: d.argmax(x, 0, true) }
  }),
  mk('TopK', (f) => {
    const x = inp(f, 'x', f32, ['B', 6])
    const big = d.topk(x, 3, 1)
    const small = d.topk(x, 2, 0, false)
    return { v: big.values, i: big.indices, sv: small.values, si: small.indices }
  }),
  mk('Softmax', (f) => ({ y: d.softmax(inp(f, 'x', f32, ['B', 4, 5], { low: -5, high: 5 })), z: d.softmax(inp(f, 'u', f32, ['B', 4]), 0) })),
  mk('LogSoftmax', (f) => ({ y: d.logSoftmax(inp(f, 'x', f32, ['B', 4, 5], { low: -5, high: 5 })), z: d.logSoftmax(inp(f, 'u', f32, ['B', 4]), 0) })),
  mk('LayerNormalization', (f) => ({ y: d.layerNorm(inp(f, 'x', f32, ['B', 4, 6], { low: -2, high: 3 }), inp(f, 'w', f32, [6]), inp(f, 'b', f32, [6]), 1e-5) })),
  mk('Reshape', (f) => {
    const x = inp(f, 'x', f32, ['B', 4, 6])
    const s = inp(f, 's', f32, ['B', 'T', 2])
    return {
      static: d.reshape(inp(f, 'u', f32, [2, 6]), [3, 4]),
      copy: d.reshape(x, ['B', 24]), // 0 copies B
      infer: d.reshape(x, [2, 'B', 12]), // -1 infers B
      moved: d.reshape(d.transpose(x, [1, 0, 2]), [2, 'B', 12]), // 0 after transposing
      swap: d.reshape(s, ['T', 'B', 2]), // -1 and one run-time dim
      three: d.reshape(d.reshape(s, [2, 'T', 'B']), ['B', 2, 'T']) // Shape -> Concat
    }
  }),
  mk('Transpose', (f) => ({ y: d.transpose(inp(f, 'x', f32, ['B', 3, 4]), [2, 0, 1]) })),
  mk('Concat', (f) => ({ y: d.concat([inp(f, 'a', f32, ['B', 2, 3]), inp(f, 'b', f32, ['B', 4, 3])], 1), z: d.concat([inp(f, 'c', i64, [2]), inp(f, 'e', i64, [1])], 0) })),
  mk('Slice', (f) => {
    const x = inp(f, 'x', f32, ['B', 6, 5])
    const t = inp(f, 't', f32, ['T', 3])
    const pos = d.param('pos', [8, 4])
    return {
      mid: d.slice(x, 1, 1, -1),
      tail: d.slice(x, 2, -3, 100),
      window: d.slice(x, 0, 0, 2), // static window of a named dim
      toEnd: d.sliceFrom(t, 0, 1), // [T-1, 3]
      upTo: d.slice(pos, 0, 0, 'T') // pos[0:T], T read from input t at run time
    }
  }, new Map([['pos', randomTensor(f32, [8, 4], 77)]])),
  mk('Expand', (f) => ({
    y: d.expand(inp(f, 'x', f32, ['B', 1, 4]), ['B', 3, 4]), // 1 keeps B
    z: d.expand(d.vector([1, 2, 3], 'float32'), ['B', 2, 3]), // B read from input x at run time
    w: d.expand(inp(f, 'u', f32, [2, 1]), [2, 5])
  })),
  mk('Squeeze', (f) => ({ y: d.squeeze(inp(f, 'x', f32, ['B', 1, 4, 1]), [1, 3]), z: d.squeeze(inp(f, 'u', f32, ['B', 2]), []) })),
  mk('Unsqueeze', (f) => ({ y: d.unsqueeze(inp(f, 'x', f32, ['B', 4]), [0, 2]) })),
  mk('Gather', (f) => ({
    y: d.gather(inp(f, 'x', f32, ['B', 5, 4]), inp(f, 'i', i64, [2, 3], { low: -5, high: 5 }), 1),
    z: d.gather(inp(f, 'e', f32, [7, 3]), inp(f, 'j', i64, ['B', 4], { low: 0, high: 7 }), 0)
  })),
  mk('GatherElements', (f) => ({ y: d.gatherElements(inp(f, 'x', f32, ['B', 5]), inp(f, 'i', i64, ['B', 3], { low: -5, high: 5 }), 1) })),
  mk('GatherND', (f) => ({
    rows: d.gatherRows(inp(f, 'x', f32, ['B', 5, 4]), inp(f, 'i', i64, ['B', 3], { low: 0, high: 5 })),
    pairs: d.gatherND(inp(f, 'u', f32, [3, 5, 2]), inp(f, 'j', i64, [4, 2], { low: 0, high: 3 }), 0)
  })),
  mk('ScatterNDAdd', (f) => ({
    y: d.scatterNDAdd(inp(f, 'x', f32, [4, 3]), inp(f, 'i', i64, [6, 1], { low: 0, high: 4 }), inp(f, 'u', f32, [6, 3])),
    rows: d.scatterNDAdd(inp(f, 'e', f32, ['B', 2, 3]), inp(f, 'j', i64, [2, 4, 1], { low: 0, high: B }), inp(f, 'v', f32, [2, 4, 2, 3])),
    pairs: d.scatterNDAdd(inp(f, 'w', f32, ['B', 4, 2]), inp(f, 'k', i64, [5, 2], { low: 0, high: B }), inp(f, 'z', f32, [5, 2]))
  })),
  mk('OneHot', (f) => ({ y: d.oneHot(inp(f, 'i', i64, ['B', 4], { low: -5, high: 8 }), 5) })),
  // fused (com.microsoft) ops
  mk('MultiHeadAttention', (f) => {
    const [q, k, v] = ['q', 'k', 'v'].map((n) => inp(f, n, f32, ['B', 'T', 8]))
    const bias = inp(f, 'bias', f32, ['B', 1, 'T', 'T'])
    const a = { heads: 2, scale: 0.35, outputs: 3 as const }
    return {
      out: make('MultiHeadAttention', [q, k, v, bias], { ...a, output: 0 }) as d.F32,
      keys: make('MultiHeadAttention', [q, k, v, bias], { ...a, output: 1 }) as d.F32,
      flash: make('MultiHeadAttention', [q, k, v], { ...a, outputs: 1, output: 0 }) as d.F32
    }
  }),
  mk('SkipLayerNormalization', (f) => {
    const [x, s] = [inp(f, 'x', f32, ['B', 6]), inp(f, 's', f32, ['B', 6])]
    const ins = [x, s, d.param('g', [6]), d.param('b', [6]), d.param('c', [6])]
    return { y: make('SkipLayerNormalization', ins, { epsilon: 1e-5, output: 0 }) as d.F32, sum: make('SkipLayerNormalization', ins, { epsilon: 1e-5, output: 3 }) as d.F32 }
  }, new Map(['g', 'b', 'c'].map((n, i) => [n, randomTensor(f32, [6], 90 + i)]))),
  mk('BiasGelu', (f) => ({ y: make('BiasGelu', [inp(f, 'x', f32, ['B', 2, 5], { low: -3, high: 3 }), d.param('b', [5])], {}) as d.F32 }), new Map([['b', randomTensor(f32, [5], 93)]])),
  mk('DynamicQuantizeMatMul', (f) => {
    const ins = [inp(f, 'a', f32, ['B', 4, 6]), d.param('w', [6, 3], 'int8'), d.param('s', [3])]
    return { y: make('DynamicQuantizeMatMul', ins, {}) as d.F32, biased: make('DynamicQuantizeMatMul', [...ins, d.param('c', [3])], {}) as d.F32 }
  }, new Map<string, HostTensor>([['w', randomTensor('int8', [6, 3], 94, { low: -WEIGHT_RANGE, high: WEIGHT_RANGE + 1 })], ['s', randomTensor(f32, [3], 95, { low: 0.01, high: 0.1 })], ['c', randomTensor(f32, [3], 96)]]))
]

// -------------------------------------------------------------------------------------
// comparison
// -------------------------------------------------------------------------------------

/** Why two tensors differ, or null: exact for int64 and bool, 1e-5 relative (plus 1e-6 absolute) for floats. */
const difference = (got: HostTensor, want: HostTensor): string | null => {
  if (got.dtype !== want.dtype) return `dtype ${got.dtype}, want ${want.dtype}`
  if (got.shape.join() !== want.shape.join()) return `shape [${got.shape}], want [${want.shape}]`
  const [a, b] = [toNumbers(got), toNumbers(want)]
  const exact = got.dtype === 'int64' || got.dtype === 'bool'
  for (let i = 0; i < a.length; i++) {
    const ok = exact ? a[i] === b[i] : Math.abs(a[i] - b[i]) <= 1e-6 + 1e-5 * Math.abs(b[i])
    if (!ok) return `element ${i}: ${a[i]}, want ${b[i]}`
  }
  return null
}

// -------------------------------------------------------------------------------------
// tests
// -------------------------------------------------------------------------------------

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'cmga-ops-'))
test.after(() => fs.rmSync(tmp, { recursive: true, force: true }))

test('every op kind is covered', () => {
  const covered = new Set<OpKind>(cases.flatMap((c) => topo(c.graph).map((n) => n.op)))
  assert.equal(allOps.filter((op) => !covered.has(op)), [])
})

test('every case passes the ONNX checker', () => {
  const files = cases.map((c, k) => {
    const file = path.join(tmp, `${k}.onnx`)
    fs.writeFileSync(file, right(emitModel(c.graph, { weights: c.weights })).model)
    return file
  })
  checkModels(files)
})

for (const c of cases) {
  test(`${c.name}: onnxruntime agrees with the reference interpreter`, async () => {
    const { model } = right(emitModel(c.graph, { weights: c.weights }))
    const session = right(await openSession(model)())
    const got = right(await session.run(c.feeds)())
    const params = new Map([...(c.weights ?? new Map<string, HostTensor>())])
    for (const [k, v] of Object.entries(c.feeds)) if (!c.graph.inputs.some((i) => i.attrs.name === k)) params.set(k, v)
    const inputs = Object.fromEntries(c.graph.inputs.map((i) => [i.attrs.name, c.feeds[i.attrs.name]]))
    const want = right(evaluate(c.graph, inputs, params))
    for (const o of c.graph.outputs) {
      const why = difference(got[o.name], want[o.name])
      assert.ok(why === null, `${c.name}, output ${o.name}: ${why}`)
    }
    right(await session.release()())
  })
}

test.run()
