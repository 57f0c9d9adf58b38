/**
 * Dynamic int8 quantization of the large matrix products: `x @ W^T (+ b)` with a weight
 * `W` [N, K] becomes `DynamicQuantizeMatMul(x, Wq, scale (, b))`, where `Wq` = W^T
 * rounded to int8 with one symmetric scale per output channel (`max |W[n, :]| / 63`),
 * and onnxruntime quantizes `x` per tensor (uint8) at run time.
 *
 * Weights use 7 bits (-63..63), as onnxruntime's own quantizer does with `reduce_range`:
 * without VNNI (AVX2-only CPUs), onnxruntime's u8 x s8 kernel sums pairs of products in
 * int16 with saturation (vpmaddubsw), and 2 * 255 * 127 overflows it; 2 * 255 * 63 =
 * 32130 does not, so the result is the same on AVX2, AVX-512 and VNNI machines. Measured
 * on an AVX2-only AMD EPYC ([197, 768] x [768, 3072]): 7-bit weights run at the speed of
 * 8-bit ones (11.2 vs 11.0 ms, float32 18.9 ms) with output cosine 0.99996 against
 * float32, where 8-bit weights saturate (cosine 0.990); uint8 weights with a zero point
 * (u8 x u8, exact too) were 13.0 ms. The rewrite adds parameters
 * `NAME.int8` and `NAME.scale`, so it maps a graph and its weights together.
 * @since 0.1.0
 */
import type { Graph } from '../ir/graph.js'
import type { Node } from '../ir/node.js'
import { make } from '../ir/node.js'
import type { HostTensor } from '../ir/tensor.js'
import { as, binary, samePerm } from '../passes/match.js'
import type { PassStats } from '../passes/pass.js'
import type { AnyRule } from '../passes/rewrite.js'
import { checked, miss, rule, runRules } from '../passes/rewrite.js'

/** Options of `quantizeInt8`. */
export interface QuantizeOptions {
  /** Weights with fewer elements stay float32 (default MIN_ELEMENTS). */
  readonly minElements?: number
  /** Parameter names (or prefixes ending in '.') to keep in float32. */
  readonly keep?: readonly string[]
  /**
   * Quantized weights made so far, filled as weights are quantized: pass one map to every
   * graph that shares weights (the stages of a model) so each is quantized once.
   */
  readonly cache?: Map<string, HostTensor>
}

/** A quantized graph, the weights it adds (with the cache's, when given one), and rule stats. */
export interface Quantized {
  readonly graph: Graph
  readonly weights: ReadonlyMap<string, HostTensor>
  readonly stats: PassStats
}

/** Weights with fewer elements stay float32 unless `minElements` says otherwise. */
export const MIN_ELEMENTS = 65536

/** The largest weight magnitude: 7 bits, so no int16 pair sum saturates (see above). */
export const WEIGHT_RANGE = 63

/** Per-output-channel symmetric int8 (within +-WEIGHT_RANGE) of `W` [N, K], transposed: `q` [K, N] and `scale` [N]. */
export const quantizeWeight = (w: HostTensor): { q: HostTensor<'int8'>; scale: HostTensor<'float32'> } => {
  const [N, K] = w.shape
  const data = w.data as Float32Array
  const q = new Int8Array(K * N)
  const scale = new Float32Array(N)
  for (let n = 0; n < N; n++) {
    let m = 0
    for (let k = 0; k < K; k++) m = Math.max(m, Math.abs(data[n * K + k]))
    const s = m === 0 ? 1 : Math.fround(m / WEIGHT_RANGE)
    scale[n] = s
    for (let k = 0; k < K; k++) q[k * N + n] = Math.max(-WEIGHT_RANGE, Math.min(WEIGHT_RANGE, Math.round(data[n * K + k] / s)))
  }
  return { q: { dtype: 'int8', shape: [K, N], data: q }, scale: { dtype: 'float32', shape: [N], data: scale } }
}

/** Runs the rules; the weight map is filled as matches are rewritten. */
export const quantizeInt8 = (g: Graph, weights: ReadonlyMap<string, HostTensor>, o: QuantizeOptions = {}): Quantized => {
  const added = o.cache ?? new Map<string, HostTensor>()
  const minElements = o.minElements ?? MIN_ELEMENTS
  const kept = (name: string): boolean => (o.keep ?? []).some((k) => name === k || (k.endsWith('.') && name.startsWith(k)))

  const quantized = (w: Node<'Param'>): [Node, Node] => {
    const name = w.attrs.name
    if (!added.has(`${name}.int8`)) {
      const { q, scale } = quantizeWeight(weights.get(name) as HostTensor)
      added.set(`${name}.int8`, q)
      added.set(`${name}.scale`, scale)
    }
    const [N, K] = w.shape
    return [make('Param', [], { name: `${name}.int8`, dtype: 'int8', shape: [K, N] }), make('Param', [], { name: `${name}.scale`, dtype: 'float32', shape: [N] })]
  }

  const matmul: AnyRule = rule<{ x: Node; w: Node<'Param'> }>({
    name: 'matmul',
    on: ['MatMul'],
    match: (mm) => {
      const t = as(mm.inputs[1], 'Transpose')
      if (t === null || !samePerm(t.attrs.perm, [1, 0])) return null
      const w = as(t.inputs[0], 'Param')
      if (w === null || !weights.has(w.attrs.name)) return miss('the weight is not a parameter with a value')
      return checked({ x: mm.inputs[0], w }, ({ x }) => {
        if (x.dtype !== 'float32' || w.dtype !== 'float32') return 'not float32'
        if ((w.shape[0] as number) * (w.shape[1] as number) < minElements) return 'small weight'
        return kept(w.attrs.name) ? 'kept in float32' : null
      })
    },
    rewrite: ({ x, w }) => make('DynamicQuantizeMatMul', [x, ...quantized(w)], {})
  })

  const bias: AnyRule = rule<{ d: Node<'DynamicQuantizeMatMul'>; b: Node }>({
    name: 'bias',
    on: ['Add'],
    match: (n, ctx) => {
      const m = binary(n, 'Add', (d, b) => {
        const q = as(d, 'DynamicQuantizeMatMul')
        return q === null || q.inputs.length !== 3 || b.shape.length !== 1 || b.shape[0] !== q.shape[q.shape.length - 1] ? null : { d: q, b }
      })
      const mm = ctx.original.inputs.find((i) => i.op === 'MatMul')
      return checked(m, () => (mm !== undefined && ctx.uses(mm) === 1 ? null : 'the product has other consumers'))
    },
    rewrite: ({ d, b }) => make('DynamicQuantizeMatMul', [...d.inputs, b], {})
  })

  const r = runRules(g, [matmul, bias])
  return { graph: r.graph, weights: added, stats: r.stats }
}
