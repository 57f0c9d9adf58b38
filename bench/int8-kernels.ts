/**
 * The int8 matrix product in the forms onnxruntime offers, profiled on one
 * encoder-sized product ([197, 768] x [768, 3072], per-output-channel int8 weights,
 * activations quantized per tensor at run time), beside float32: issue 4 asks for
 * whichever measures fastest. Kernel times come from onnxruntime's profiler (median
 * over runs), which also shows what each form becomes after onnxruntime's own graph
 * optimizations. The graphs are written as ONNX directly: the two unfused forms
 * (standard-opset MatMulInteger, and MatMulIntegerToFloat) are not IR ops, as the
 * compiler never emits them.
 * @since 0.1.0
 */
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import * as ort from 'onnxruntime-node'
import type { onnx as proto } from 'onnx-proto'
import { onnx } from '../compiler/emit/proto.js'
import { medianOf, readProfile, sessionOptions } from './measure.js'

const [M, K, N] = [197, 768, 3072]
const FLOAT = onnx.TensorProto.DataType.FLOAT
const INT8 = onnx.TensorProto.DataType.INT8

const tensor = (name: string, dataType: number, dims: number[], raw: Uint8Array): proto.ITensorProto => ({ name, dataType, dims, rawData: raw })
const info = (name: string, elemType: number, dims: number[]): proto.IValueInfoProto => ({ name, type: { tensorType: { elemType, shape: { dim: dims.map((d) => ({ dimValue: d })) } } } })
const node = (opType: string, input: string[], output: string[], domain = '', attribute: proto.IAttributeProto[] = []): proto.INodeProto => ({ opType, input, output, domain, attribute })

const model = (nodes: proto.INodeProto[], inits: proto.ITensorProto[]): Uint8Array =>
  onnx.ModelProto.encode({
    irVersion: 8,
    opsetImport: [{ domain: '', version: 17 }, { domain: 'com.microsoft', version: 1 }],
    graph: {
      name: 'int8-kernel',
      // `total` lets a timed run fetch one number: copying y out (2.4 MB into fresh memory) would dominate
      node: [...nodes, node('ReduceSum', ['y'], ['total'], '', [{ name: 'keepdims', type: onnx.AttributeProto.AttributeType.INT, i: 0 }])],
      input: [info('x', FLOAT, [M, K])],
      output: [info('y', FLOAT, [M, N]), info('total', FLOAT, [])],
      initializer: inits
    }
  }).finish()

const bytes = (a: Float32Array | Int8Array): Uint8Array => new Uint8Array(a.buffer, a.byteOffset, a.byteLength)

/** The variants' model bytes, for random weights from `rand`. */
export const int8Variants = (rand: () => number): Array<[string, Uint8Array]> => {
  const w = Float32Array.from({ length: K * N }, () => (rand() * 2 - 1) * 0.05) // [K, N]: x @ w
  const scale = new Float32Array(N)
  for (let n = 0; n < N; n++) {
    let m = 0
    for (let k = 0; k < K; k++) m = Math.max(m, Math.abs(w[k * N + n]))
    scale[n] = m / 127 || 1
  }
  const wq = Int8Array.from(w, (v, i) => Math.round(v / scale[i % N]))
  const inits = [tensor('wq', INT8, [K, N], bytes(wq)), tensor('ws', FLOAT, [N], bytes(scale))]
  return [
    ['float32 MatMul', model([node('MatMul', ['x', 'w'], ['y'])], [tensor('w', FLOAT, [K, N], bytes(w))])],
    ['DynamicQuantizeMatMul (com.microsoft; what cmga emits)', model([node('DynamicQuantizeMatMul', ['x', 'wq', 'ws'], ['y'], 'com.microsoft')], inits)],
    [
      'DynamicQuantizeLinear + MatMulIntegerToFloat (com.microsoft)',
      model([node('DynamicQuantizeLinear', ['x'], ['xq', 'xs', 'xz']), node('MatMulIntegerToFloat', ['xq', 'wq', 'xs', 'ws', 'xz'], ['y'], 'com.microsoft')], inits)
    ],
    [
      'DynamicQuantizeLinear + MatMulInteger + Cast + Mul (standard opset)',
      model(
        [
          node('DynamicQuantizeLinear', ['x'], ['xq', 'xs', 'xz']),
          node('MatMulInteger', ['xq', 'wq', 'xz'], ['acc']),
          node('Cast', ['acc'], ['accf'], '', [{ name: 'to', type: onnx.AttributeProto.AttributeType.INT, i: FLOAT }]),
          node('Mul', ['xs', 'ws'], ['s']),
          node('Mul', ['accf', 's'], ['y'])
        ],
        inits
      )
    ]
  ]
}

/** One variant: what onnxruntime runs for it after its own graph optimizations, and how long. */
export interface Int8Kernel {
  readonly name: string
  /** The kernels onnxruntime ran (the timing's ReduceSum left out). */
  readonly kernels: readonly string[]
  /** Median over profiled runs of their summed kernel time, ms. */
  readonly kernelMs: number
  /** Largest |y - y_float32| over max |y_float32|. */
  readonly error: number
}

/** Each variant profiled over `runs` runs after a warm-up. */
export const int8Kernels = async (rand: () => number, runs = 41): Promise<Int8Kernel[]> => {
  const vs = int8Variants(rand)
  const x = new ort.Tensor('float32', Float32Array.from({ length: M * K }, () => rand() * 2 - 1), [M, K])
  const out: Int8Kernel[] = []
  let ref: Float32Array | undefined
  for (const [name, m] of vs) {
    const prefix = join(tmpdir(), `cmga-int8-${process.pid}-${Date.now()}`)
    const s = await ort.InferenceSession.create(m, sessionOptions(prefix))
    const y = (await s.run({ x })).y.data as Float32Array
    for (let i = 0; i < runs; i++) await s.run({ x }, ['total'])
    s.endProfiling()
    await s.release()
    const profile = readProfile(prefix)
    const timed = profile.slice(2) // after the full-output run and the first timed one
    const kernelMs = (run: Map<string, number>): number => [...run].filter(([op]) => op !== 'ReduceSum').reduce((t, [, us]) => t + us, 0) / 1000
    ref ??= y
    const base = ref
    out.push({
      name,
      kernels: [...new Set(profile.flatMap((run) => [...run.keys()].filter((op) => op !== 'ReduceSum')))],
      kernelMs: timed.length === 0 ? NaN : medianOf(timed.map(kernelMs)),
      error: y.reduce((m, v, i) => Math.max(m, Math.abs(v - base[i])), 0) / base.reduce((m, v) => Math.max(m, Math.abs(v)), 0)
    })
  }
  return out
}
