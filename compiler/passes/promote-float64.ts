/**
 * Float64 promotion: a float32 graph computed in float64. The graph's interface keeps
 * its types (float32 inputs, parameters and outputs), with casts at the boundary; every
 * float32 value inside becomes float64. Ops that onnxruntime's CPU provider only has
 * float32 kernels for (`float32Only` in `ir/ops.ts`: `Erf`, `Conv`, `OneHot`, the fused
 * com.microsoft ops) stay float32 between casts, except `Conv` with stride equal to its
 * kernel (a patch embedding), which becomes the equivalent reshape + MatMul in float64.
 * The rules run on the rewrite engine in its retyping mode.
 *
 * Why: float32 rounds every intermediate to 24 bits, and a deep network's gradient can
 * amplify that far beyond 1e-4 (see README, "Training": on the tiny fixture a 1-ulp
 * change of the weights moves some gradients by 3e-4). `cmga grad` runs promoted.
 * This is a one-shot lowering, run after the default pipeline; on an already promoted
 * graph it changes nothing.
 * @since 0.1.0
 */
import type { Graph } from '../ir/graph.js'
import { topo } from '../ir/graph.js'
import type { Node } from '../ir/node.js'
import { make } from '../ir/node.js'
import type { OpKind } from '../ir/ops.js'
import { float32Only } from '../ir/ops.js'
import type { Pass, PassResult } from './pass.js'
import { noStats } from './pass.js'
import type { AnyRule } from './rewrite.js'
import { runRules, simpleRule } from './rewrite.js'

// -------------------------------------------------------------------------------------
// helpers
// -------------------------------------------------------------------------------------

const cast = (x: Node, to: 'float32' | 'float64'): Node => (x.dtype === to ? x : make('Cast', [x], { to }))

const isCastFrom64 = (n: Node): boolean => n.op === 'Cast' && n.inputs[0].dtype === 'float64'

/** A float32 node that promotion would change (leaves and the casts it makes do not count). */
const needsPromotion = (n: Node): boolean => {
  if (n.dtype !== 'float32' || n.inputs.length === 0 || isCastFrom64(n)) return false
  const island = float32Only.has(n.op)
  return !(island && n.inputs.every((m) => m.dtype !== 'float32' || isCastFrom64(m)))
}

/** `Conv` with stride == kernel over divisible static dims, as patches x kernel (im2col by reshape). */
const patchConv = (n: Node<'Conv'>, [x, w, b]: readonly Node[]): Node | null => {
  const { kernel, strides } = n.attrs
  const [N, C, H, W] = x.shape
  const [kh, kw] = kernel
  if (strides[0] !== kh || strides[1] !== kw || typeof C !== 'number' || typeof H !== 'number' || typeof W !== 'number' || H % kh !== 0 || W % kw !== 0) return null
  const [Ho, Wo, K, O] = [H / kh, W / kw, C * kh * kw, w.shape[0]]
  const grid = make('Reshape', [x], { shape: [N, C, Ho, kh, Wo, kw] })
  const patches = make('Reshape', [make('Transpose', [grid], { perm: [0, 2, 4, 1, 3, 5] })], { shape: [N, Ho * Wo, K] })
  const kernels = make('Transpose', [make('Reshape', [w], { shape: [O, K] })], { perm: [1, 0] })
  const y = make('MatMul', [patches, kernels], {})
  const biased = b === undefined ? y : make('Add', [y, b], {})
  return make('Reshape', [make('Transpose', [biased], { perm: [0, 2, 1] })], { shape: [N, O, Ho, Wo] })
}

/** A rule on the ops `on` whose replacement is `f(original node, promoted inputs)` when not null. */
const promote = (name: string, on: readonly OpKind[], f: (n: Node, ins: readonly Node[]) => Node | null): AnyRule =>
  simpleRule(name, on, (n, ctx) => f(n, ctx.inputs))

/** The promotion rules; a node none replaces is rebuilt over its promoted inputs. */
const promoteRules: readonly AnyRule[] = [
  promote('leaf', ['Input', 'Param'], (n) => (n.dtype === 'float32' ? cast(n, 'float64') : null)),
  promote('constant', ['Constant'], (n) => {
    const v = (n as Node<'Constant'>).attrs.value
    return v.dtype === 'float32' ? make('Constant', [], { value: { dtype: 'float64', shape: v.shape, data: Float64Array.from(v.data as Float32Array) } }) : null
  }),
  promote('cast', ['Cast'], (n, [x]) => {
    const to = (n as Node<'Cast'>).attrs.to
    return to === 'float32' || to === 'float64' ? cast(x, 'float64') : null
  }),
  promote('patchConv', ['Conv'], (n, ins) => patchConv(n as Node<'Conv'>, ins)),
  promote('island', [...float32Only], (n, ins) => {
    const inner = make(n.op as OpKind, ins.map((m) => (m.dtype === 'float64' ? cast(m, 'float32') : m)), n.attrs)
    return inner.dtype === 'float32' ? cast(inner, 'float64') : inner
  })
]

// -------------------------------------------------------------------------------------
// the pass
// -------------------------------------------------------------------------------------

/** Promotes a graph to float64 inside. Stats: `nodes` (float32 nodes promoted) and the rules' firings. */
export const runPromoteFloat64 = (g: Graph): PassResult => {
  const count = topo(g).filter(needsPromotion).length
  if (count === 0) return { graph: g, changed: false, stats: noStats }
  const r = runRules(g, promoteRules, { retype: true })
  const outputs = r.graph.outputs.map((o, i) => ({ name: o.name, node: g.outputs[i].node.dtype === 'float32' ? cast(o.node, 'float32') : o.node }))
  return { graph: { name: g.name, inputs: g.inputs, outputs }, changed: true, stats: { fired: { ...r.stats.fired, nodes: count }, missed: {} } }
}

/** Float64 promotion as a pass (run it once, after the default pipeline). */
export const promoteFloat64: Pass = { name: 'promoteFloat64', run: runPromoteFloat64 }
