// The README's example: a small model in the DSL, compiled to ONNX and run in onnxruntime.
import * as E from 'fp-ts/lib/Either.js'
import * as d from '../dsl/index.js'
import { defaultPasses, runPipeline } from '../compiler/passes/pipeline.js'
import { emitModel } from '../compiler/emit/model.js'
import { printGraph } from '../compiler/ir/print.js'
import { fromNumbers, sizeOf } from '../compiler/ir/tensor.js'
import { openSession } from '../runtime/session.js'

// 1. The model: a plain function of inputs and named parameters.
const mlp = (x: d.F32): d.F32 => {
  const h = d.gelu(d.linear(x, d.param('fc1.weight', [8, 4]), d.param('fc1.bias', [8])))
  return d.softmax(d.linear(h, d.param('fc2.weight', [3, 8]), d.param('fc2.bias', [3])))
}
const x = d.input('x', 'float32', ['B', 4]) // the named dim 'B' becomes an ONNX dim_param

// 2. DSL -> IR -> passes -> ONNX bytes (parameters with weights become initializers).
const { graph } = runPipeline(d.graph('mlp', [x], { y: mlp(x) }), defaultPasses)
const shapes: Record<string, number[]> = { 'fc1.weight': [8, 4], 'fc1.bias': [8], 'fc2.weight': [3, 8], 'fc2.bias': [3] }
const weights = new Map(Object.entries(shapes).map(([name, s]) => [name, fromNumbers('float32', s, Array.from({ length: sizeOf(s) }, (_, k) => Math.sin(k)))]))
const model = emitModel(graph, { weights })
if (E.isLeft(model)) throw new Error(model.left.message)

// 3. Run it with onnxruntime-node.
const session = await openSession(model.right.model)()
if (E.isLeft(session)) throw new Error(session.left.message)
const out = await session.right.run({ x: fromNumbers('float32', [2, 4], [1, 2, 3, 4, 5, 6, 7, 8]) })()
if (E.isLeft(out)) throw new Error(out.left.message)
console.log(printGraph(graph))
console.log('y', out.right.y.shape, Array.from(out.right.y.data as Float32Array, (v) => v.toFixed(4)).join(' '))
