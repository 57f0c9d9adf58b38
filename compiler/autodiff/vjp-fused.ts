/**
 * Gradient rules of the fused inference ops (`groups.fused`): there are none. Fusions
 * rewrite deployment graphs; training differentiates the unfused graph, so a fused op
 * reaching `grad` means the passes ran in the wrong order, and that is a clear error.
 * @since 0.1.0
 */
import { raise } from '../errors.js'
import type { KindsIn } from '../ir/ops.js'
import type { Vjp, VjpTable } from './vjp.js'

/** The fused op kinds. */
export type FusedKind = KindsIn<'fused'>

const notDifferentiable: Vjp<unknown> = (n) => raise('shape', `${n.op} is not differentiable: run fusions after grad`)

/** Rules of the fused ops: each raises a `BuildError`. */
export const fusedRules: Pick<VjpTable, FusedKind> = {
  MultiHeadAttention: notDifferentiable,
  SkipLayerNormalization: notDifferentiable,
  BiasGelu: notDifferentiable,
  DynamicQuantizeMatMul: notDifferentiable
}
