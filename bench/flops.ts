/**
 * Floating-point operations of a graph, counted from the IR: the contractions only
 * (MatMul, Conv, attention, quantized MatMul; 2 per multiply-add), with named dims
 * given their run-time sizes. Elementwise work is left out: it is bandwidth, not FLOPs.
 * @since 0.1.0
 */
import type { Graph } from '../compiler/ir/graph.js'
import { topo } from '../compiler/ir/graph.js'
import type { Node } from '../compiler/ir/node.js'
import type { Dim } from '../compiler/ir/ops.js'

const sizer =
  (dims: Readonly<Record<string, number>>) =>
  (d: Dim): number =>
    typeof d === 'number' ? d : (dims[d] ?? NaN)

const product = (xs: readonly number[]): number => xs.reduce((a, b) => a * b, 1)

/** FLOPs of one node (0 for the ops not counted). */
export const nodeFlops = (n: Node, dims: Readonly<Record<string, number>>): number => {
  const s = sizer(dims)
  const out = n.shape.map(s)
  switch (n.op) {
    case 'MatMul':
    case 'DynamicQuantizeMatMul': {
      const a = n.inputs[0].shape
      return 2 * product(out) * s(a[a.length - 1])
    }
    case 'Conv': {
      const w = n.inputs[1].shape.map(s)
      return 2 * product(out) * w[1] * w[2] * w[3]
    }
    case 'MultiHeadAttention': {
      const [q, k] = n.inputs.map((m) => m.shape.map(s))
      return 4 * q[0] * q[1] * k[1] * q[2] // q k^T and A v
    }
    default:
      return 0
  }
}

/** FLOPs of a whole graph (each ONNX node once: outputs of one fused node are counted once). */
export const graphFlops = (g: Graph, dims: Readonly<Record<string, number>>): number => {
  const seen = new Set<string>()
  let total = 0
  for (const n of topo(g)) {
    if (n.op === 'MultiHeadAttention') {
      const key = n.inputs.map((m) => m.id).join(',')
      if (seen.has(key)) continue
      seen.add(key)
    }
    total += nodeFlops(n, dims)
  }
  return total
}

/** FLOPs of the linear layers alone (MatMul by a 2-D weight, Conv, quantized MatMul): the GEMM work. */
export const gemmFlops = (g: Graph, dims: Readonly<Record<string, number>>): number =>
  topo(g).reduce((t, n) => t + ((n.op === 'MatMul' && n.inputs[1].shape.length === 2) || n.op === 'Conv' || n.op === 'DynamicQuantizeMatMul' ? nodeFlops(n, dims) : 0), 0)
