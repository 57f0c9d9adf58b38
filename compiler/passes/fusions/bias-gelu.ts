/**
 * `GELU(x + bias)` -> `BiasGelu(x, bias)`: the exact GELU as the DSL writes it,
 * `0.5 x (1 + erf(x / sqrt 2))` over a linear layer's output `m + bias`.
 * @since 0.1.0
 */
import type { Node } from '../../ir/node.js'
import { make } from '../../ir/node.js'
import type { Pass } from '../pass.js'
import { as, binary, isScalar } from '../match.js'
import { checked, rule, rulePass } from '../rewrite.js'

/** `x` of `(x * 0.5) * (erf(x / sqrt2) + 1)` (`binary` tries commuted operands). */
const geluOf = (n: Node): Node | null =>
  binary(n, 'Mul', (half, tail) => {
    const x = binary(half, 'Mul', (a, c) => (isScalar(c, 0.5) ? a : null))
    if (x === null) return null
    const erfArg = binary(tail, 'Add', (e, one) => (isScalar(one, 1) ? as(e, 'Erf')?.inputs[0] ?? null : null))
    const byDiv = binary(erfArg ?? undefined, 'Div', (a, c) => (isScalar(c, Math.SQRT2, 1e-7) ? a : null))
    const byMul = binary(erfArg ?? undefined, 'Mul', (a, c) => (isScalar(c, Math.SQRT1_2, 1e-7) ? a : null))
    return byDiv === x || byMul === x ? x : null
  })

/** The BiasGelu fusion pass. Stats: `biasGelu`, and reasons. */
export const fuseBiasGelu: Pass = rulePass('fuseBiasGelu', [
  rule<{ m: Node; bias: Node }>({
    name: 'biasGelu',
    on: ['Mul'],
    match: (n) => {
      const x = geluOf(n)
      if (x === null) return null
      const last = x.shape[x.shape.length - 1]
      const parts = binary(x, 'Add', (m, bias) => (bias.shape.length === 1 && bias.shape[0] === last && m.shape.length === x.shape.length ? { m, bias } : null))
      return checked(parts ?? { m: x, bias: x }, () => (x.dtype !== 'float32' ? 'not float32' : parts === null ? 'the GELU input is not x + a bias vector' : null))
    },
    rewrite: ({ m, bias }) => make('BiasGelu', [m, bias], {})
  })
])
