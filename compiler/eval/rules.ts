/**
 * The reference interpreter's rule table: one evaluation rule per op kind, in float64,
 * written from the ONNX (opset 17) semantics with plain loops. Leaves are bound by
 * `evaluate`; only `Constant` has a value of its own.
 * @since 0.1.0
 */
import type { OpAttrs, OpKind } from '../ir/ops.js'
import { elementwiseRules } from './rules-elementwise.js'
import { movementRules } from './rules-movement.js'
import { reduceRules } from './rules-reduce.js'
import { fusedRules } from './rules-fused.js'
import type { Rule } from './value.js'
import { EvalError, fromHost } from './value.js'

const unbound: Rule<OpAttrs['Input'] | OpAttrs['Param']> = (_, { name }) => {
  throw new EvalError('input', `"${name}" has no value: inputs and parameters are bound by evaluate`)
}

/** Evaluation rules, one per op kind. */
export const evalRules: { readonly [K in OpKind]: Rule<OpAttrs[K]> } = {
  Input: unbound,
  Param: unbound,
  Constant: (_, { value }) => fromHost(value),
  ...elementwiseRules,
  ...reduceRules,
  ...movementRules,
  ...fusedRules
}
