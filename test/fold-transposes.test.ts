/** Weights transposed at compile time: same outputs, no Transpose of a weight left for onnxruntime. */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { onnx } from '../compiler/emit/proto.js'
import { nodesOf } from '../compiler/ir/graph.js'
import type { HostTensor } from '../compiler/ir/tensor.js'
import { fromNumbers } from '../compiler/ir/tensor.js'
import { foldParamTransposes, transposeTensor } from '../compiler/weights/fold-transposes.js'
import * as d from '../dsl/index.js'
import { assertSameOutputs } from './support/same-outputs.js'
import { randomTensor } from './support/random.js'
import { tempDir } from './support/cli.js'
import { compileTinyModel } from './support/retrieval-data.js'

test('transposeTensor permutes axes (3-D, every element checked)', () => {
  const t = fromNumbers('float32', [2, 3, 4], Array.from({ length: 24 }, (_, i) => i))
  const p = transposeTensor(t, [2, 0, 1])
  assert.equal(p.shape, [4, 2, 3])
  for (let a = 0; a < 4; a++) for (let b = 0; b < 2; b++) for (let c = 0; c < 3; c++) assert.is(p.data[a * 6 + b * 3 + c], t.data[b * 12 + c * 4 + a])
})

test('foldParamTransposes: a linear layer keeps its outputs and loses its Transpose', async () => {
  const x = d.input('x', 'float32', ['B', 16])
  const g = d.graph('lin', [x], { y: d.linear(x, d.param('w', [8, 16]), d.param('b', [8])), z: d.matmul(x, d.transpose(d.param('free', [8, 16]), [1, 0])) })
  const weights = new Map<string, HostTensor>([['w', randomTensor('float32', [8, 16], 1)], ['b', randomTensor('float32', [8], 2)]])
  const f = foldParamTransposes(g, weights)
  assert.equal([...f.derived], [['w.T', { from: 'w', perm: [1, 0] }]])
  const derived = new Map([['w.T', transposeTensor(weights.get('w') as HostTensor, [1, 0])]])
  assert.equal(derived.get('w.T')?.shape, [16, 8])
  assert.is(f.stats.fired.foldTranspose, 1)
  assert.is(f.stats.missed.foldTranspose['the parameter has no value'], 1) // `free` becomes a graph input, its Transpose stays
  assert.equal(nodesOf(f.graph, 'Transpose').length, 1)
  const feeds = { x: randomTensor('float32', [3, 16], 3), free: randomTensor('float32', [8, 16], 4) }
  await assertSameOutputs(g, f.graph, feeds, new Map([...weights, ...derived]))
})

test('cmga compile: no stage leaves a weight for onnxruntime to transpose', () => {
  const model = compileTinyModel(join(tempDir('cmga-fold-'), 'model'), false)
  const manifest = JSON.parse(readFileSync(join(model, 'manifest.json'), 'utf8'))
  let transposes = 0
  for (const spec of Object.values<{ file: string }>(manifest.stages)) {
    const m = onnx.ModelProto.decode(readFileSync(join(model, spec.file)))
    const inits = new Set((m.graph?.initializer ?? []).map((t) => t.name))
    for (const n of m.graph?.node ?? []) if (n.opType === 'Transpose') assert.not.ok(inits.has(n.input?.[0]), `${spec.file}: Transpose of weight ${n.input?.[0]}`)
    transposes += (m.graph?.initializer ?? []).filter((t) => t.name?.endsWith('.T')).length
  }
  assert.ok(transposes > 20, `${transposes} transposed weights`)
})

test.run()
