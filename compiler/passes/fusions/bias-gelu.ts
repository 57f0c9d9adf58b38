/**
 * `GELU(x + bias)` -> `BiasGelu(x, bias)`: the exact GELU as the DSL writes it,
 * `0.5 x (1 + erf(x / sqrt 2))` over a linear layer's output `m + bias`.
 * @since 0.1.0
 */
import type { Node } from '../../ir/node.js'
import { make } from '../../ir/node.js'
import type { Pass } from '../pass.js'
import { as, either, isScalar } from './match.js'
import { fusionPass, rule } from './rule-set.js'

/** `x` of `(x * 0.5) * (erf(x / sqrt2) + 1)`, operands in either order. */
const geluOf = (n: Node): Node | null =>
  either(n, 'Mul', (half, tail) => {
    const x = either(half, 'Mul', (a, c) => (isScalar(c, 0.5) ? a : null))
    if (x === null) return null
    const erfArg = either(tail, 'Add', (e, one) => (isScalar(one, 1) ? as(e, 'Erf')?.inputs[0] ?? null : null))
    const same = as(erfArg ?? undefined, 'Div')
    const byMul = either(erfArg ?? undefined, 'Mul', (a, c) => (isScalar(c, Math.SQRT1_2, 1e-7) ? a : null))
    return (same !== null && same.inputs[0] === x && isScalar(same.inputs[1], Math.SQRT2, 1e-7)) || byMul === x ? x : null
  })

/** The BiasGelu fusion pass. Stats: `biasGelu`, and reasons. */
export const fuseBiasGelu: Pass = fusionPass('fuseBiasGelu', [
  rule<{ x: Node; parts: { m: Node; bias: Node } | null }>({
    name: 'biasGelu',
    pattern: (n) => {
      const x = geluOf(n)
      if (x === null) return null
      const last = x.shape[x.shape.length - 1]
      return { x, parts: either(x, 'Add', (m, bias) => (bias.shape.length === 1 && bias.shape[0] === last && m.shape.length === x.shape.length ? { m, bias } : null)) }
    },
    check: ({ x, parts }) => (x.dtype !== 'float32' ? 'not float32' : parts === null ? 'the GELU input is not x + a bias vector' : null),
    rewrite: ({ parts }) => make('BiasGelu', [(parts as { m: Node }).m, (parts as { bias: Node }).bias], {})
  })
])
