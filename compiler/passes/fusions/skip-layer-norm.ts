/**
 * Residual add + layer norm -> `SkipLayerNormalization`. A pre-norm block's residual
 * sum has two consumers (the next layer norm and the next residual add), so the Add is
 * replaced by the fused node's sum output (3) and the LayerNormalization by its
 * normalized output (0) of the same node; a linear layer's bias added just before the
 * residual is absorbed as the fused node's bias.
 * @since 0.1.0
 */
import type { Node } from '../../ir/node.js'
import { make } from '../../ir/node.js'
import type { Pass } from '../pass.js'
import { as, binary, sameShape } from '../match.js'
import type { RuleContext } from '../rewrite.js'
import { checked, rule, rulePass } from '../rewrite.js'

/** The parts of a fusable residual: `x + (m + bias)` or `x + y`, normalized by `norm`. */
interface Residual {
  readonly add: Node
  readonly norm: Node<'LayerNormalization'> | undefined
  readonly input: Node
  readonly skip: Node
  readonly bias?: Node
}

/** Splits `add` into input and skip, taking a vector bias added to one side as the bias. */
const operands = (add: Node<'Add'>): Pick<Residual, 'input' | 'skip' | 'bias'> => {
  const biased = (x: Node, skip: Node): Pick<Residual, 'input' | 'skip' | 'bias'> | null =>
    binary(x, 'Add', (m, bias) => (bias.shape.length === 1 && bias.op === 'Param' && sameShape(m.shape, skip.shape) ? { input: m, skip, bias } : null))
  return binary(add, 'Add', biased) ?? { input: add.inputs[0], skip: add.inputs[1] }
}

/** The first LayerNormalization over the last axis that consumes `original`. */
const normOf = (original: Node, ctx: RuleContext): Node<'LayerNormalization'> | undefined =>
  ctx.users(original).map((u) => as(u, 'LayerNormalization')).find((u): u is Node<'LayerNormalization'> => u !== null && u.inputs[0] === original)

const fused = (r: Residual, norm: Node<'LayerNormalization'>, output: 0 | 3, ctx: RuleContext): Node => {
  const [gamma, beta] = norm.inputs.slice(1).map(ctx.rebuilt)
  const inputs = r.bias === undefined ? [r.input, r.skip, gamma, beta] : [r.input, r.skip, gamma, beta, r.bias]
  return make('SkipLayerNormalization', inputs, { epsilon: norm.attrs.epsilon, output })
}

const why = ({ add, input, skip }: Residual): string | null => {
  if (add.dtype !== 'float32') return 'not float32'
  return sameShape(input.shape, skip.shape) ? null : 'the add broadcasts'
}

/** A residual Add that a layer norm consumes -> the fused node's sum output. */
const sumRule = rule<Residual>({
  name: 'skipSum',
  on: ['Add'],
  match: (n, ctx) => {
    const add = n as Node<'Add'>
    const norm = normOf(ctx.original, ctx)
    return norm === undefined ? null : checked({ add, norm, ...operands(add) }, why)
  },
  rewrite: (r, ctx) => fused(r, r.norm as Node<'LayerNormalization'>, 3, ctx)
})

/** A LayerNormalization of a fused sum -> output 0 of the same fused node. */
const normRule = rule<{ node: Node<'LayerNormalization'>; sum: Node<'SkipLayerNormalization'> | null }>({
  name: 'skipLayerNorm',
  on: ['LayerNormalization'],
  match: (n) => {
    const node = n as Node<'LayerNormalization'>
    if (node.inputs[0].op !== 'Add' && node.inputs[0].op !== 'SkipLayerNormalization') return null
    return checked({ node, sum: as(node.inputs[0], 'SkipLayerNormalization') }, ({ sum }) => {
      if (sum === null) return 'its residual add was not fused'
      const same = sum.attrs.output === 3 && sum.attrs.epsilon === node.attrs.epsilon && sum.inputs[2] === node.inputs[1] && sum.inputs[3] === node.inputs[2]
      return same ? null : 'the fused sum belongs to another layer norm'
    })
  },
  rewrite: ({ sum }) => make('SkipLayerNormalization', (sum as Node).inputs, { ...(sum as Node<'SkipLayerNormalization'>).attrs, output: 0 })
})

/** The SkipLayerNormalization fusion pass. Stats: `skipSum`, `skipLayerNorm`, and reasons. */
export const fuseSkipLayerNorm: Pass = rulePass('fuseSkipLayerNorm', [sumRule, normRule])
