/**
 * A training step as a graph transform: any graph with a float scalar loss becomes one
 * AdamW step. The new graph takes the parameters (as graph inputs), the optimizer
 * state and the learning rate, and returns the original outputs plus the updated
 * parameters and state, so the whole step (forward, backward, clipping, update) runs
 * in one onnxruntime call and the driver only swaps buffers.
 *
 * AdamW as PyTorch's `torch.optim.AdamW` computes it, with `t` the step being taken:
 *
 *     m' = b1 m + (1 - b1) g          v' = b2 v + (1 - b2) g^2
 *     p' = p - lr wd p - lr (m' / (1 - b1^t)) / (sqrt(v' / (1 - b2^t)) + eps)
 *
 * with decoupled weight decay `wd` on matrices only (rank >= 2: no biases, norms,
 * embeddings of rank 1 or scalars) and optional clipping of the global gradient norm
 * (`g *= min(1, clip / (||g|| + 1e-6))`, as `torch.nn.utils.clip_grad_norm_`).
 * @since 0.1.0
 */
import * as E from 'fp-ts/lib/Either.js'
import type { GradOptions } from '../autodiff/grad.js'
import { backwardReached } from '../autodiff/grad.js'
import type { CmgaError } from '../errors.js'
import { fail, tryBuild } from '../errors.js'
import type { Graph, Output } from '../ir/graph.js'
import { graph, paramsOf } from '../ir/graph.js'
import type { Node } from '../ir/node.js'
import { showType } from '../ir/node.js'
import { add, cast, div, input, minimum, mul, pow, scalar, sqrt, sub, sum } from '../ir/build.js'

// -------------------------------------------------------------------------------------
// model
// -------------------------------------------------------------------------------------

/** AdamW hyper-parameters (the learning rate is a graph input, set per step). */
export interface AdamWOptions {
  readonly beta1: number
  readonly beta2: number
  readonly eps: number
  /** Decoupled weight decay, applied to the parameters `decays` selects. */
  readonly weightDecay: number
  /** Clip the global gradient norm to this value first (no clipping when undefined). */
  readonly clipNorm?: number
  /** Which parameters decay (default: rank >= 2, i.e. matrices and kernels). */
  readonly decays?: (p: Node<'Param'>) => boolean
  /** Maps a parameter's updated (float32) value (e.g. a clamp that keeps it in range); default none. */
  readonly project?: (name: string, next: Node) => Node
  /** Passed to `backward` (stop-gradients, bounds of named dims). */
  readonly grad?: GradOptions
}

/** PyTorch's AdamW defaults, with ALBEF's weight decay (0.02). */
export const adamwDefaults: AdamWOptions = { beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.02 }

/** The names a train-step graph uses for its extra inputs and outputs. */
export const trainNames = {
  /** Input: learning rate, float32 []. */
  lr: 'lr',
  /** Input: updates taken so far, int64 [] (0 before the first step). */
  step: 'adam.step',
  /** Input: first moment of a parameter, shaped like it. */
  m: (param: string): string => `adam.m.${param}`,
  /** Input: second moment of a parameter, shaped like it. */
  v: (param: string): string => `adam.v.${param}`,
  /** Output: the updated value of an input or parameter named `name`. */
  next: (name: string): string => `next.${name}`,
  /** Output: the global gradient norm before clipping, float32 []. */
  gradNorm: 'grad_norm'
} as const

/** A train-step graph and what it updates. */
export interface TrainStep {
  readonly graph: Graph
  /** The parameters the step takes and gives back, by name, in graph order: every parameter the loss uses; those no gradient reaches come back unchanged. */
  readonly params: ReadonlyArray<{ readonly name: string; readonly shape: readonly number[] }>
}

// -------------------------------------------------------------------------------------
// building
// -------------------------------------------------------------------------------------

const decaysByRank = (p: Node<'Param'>): boolean => p.shape.length >= 2

/** The global L2 norm of the gradients, float32 []. */
const globalNorm = (grads: readonly Node[]): Node =>
  grads.length === 0 ? scalar(0, 'float32') : sqrt(grads.map((g) => (g.shape.length === 0 ? mul(g, g) : sum(mul(g, g), g.shape.map((_, i) => i)))).reduce((a, b) => add(a, b)))

const build = (g: Graph, loss: Node, opts: AdamWOptions): TrainStep => {
  const params = [...paramsOf(g)]
  // A parameter no gradient reaches (used only through indices or a StopGradient) is fed
  // and passed on unchanged: decayed, it would shrink towards 0 with nothing to hold it.
  const grads = backwardReached(loss, params, opts.grad)
  const lr = input(trainNames.lr, 'float32', [])
  const step = input(trainNames.step, 'int64', [])
  const t = add(step, 1)
  const tf = cast(t, 'float32')
  const bc1 = sub(1, pow(opts.beta1, tf))
  const bc2 = sub(1, pow(opts.beta2, tf))
  const norm = globalNorm(grads.filter((c): c is Node => c !== null))
  const scale = opts.clipNorm === undefined ? undefined : minimum(div(opts.clipNorm, add(norm, 1e-6)), 1)
  const decays = opts.decays ?? decaysByRank
  const state: Node<'Input'>[] = []
  const outputs: Output[] = [...g.outputs, { name: trainNames.gradNorm, node: norm }]
  params.forEach((p, i) => {
    const name = p.attrs.name
    const m = input(trainNames.m(name), 'float32', p.shape)
    const v = input(trainNames.v(name), 'float32', p.shape)
    state.push(m, v)
    const gi = grads[i]
    if (gi === null) {
      outputs.push({ name: trainNames.next(name), node: p }, { name: trainNames.next(trainNames.m(name)), node: m }, { name: trainNames.next(trainNames.v(name)), node: v })
      return
    }
    const grad = scale === undefined ? gi : mul(gi, scale)
    const m1 = add(mul(m, opts.beta1), mul(grad, 1 - opts.beta1))
    const v1 = add(mul(v, opts.beta2), mul(mul(grad, grad), 1 - opts.beta2))
    const update = div(div(m1, bc1), add(sqrt(div(v1, bc2)), opts.eps))
    const decayed = decays(p) && opts.weightDecay !== 0 ? sub(p, mul(mul(lr, opts.weightDecay), p)) : p
    const next = sub(decayed, mul(lr, update))
    outputs.push(
      { name: trainNames.next(name), node: opts.project === undefined ? next : opts.project(name, next) },
      { name: trainNames.next(trainNames.m(name)), node: m1 },
      { name: trainNames.next(trainNames.v(name)), node: v1 }
    )
  })
  outputs.push({ name: trainNames.next(trainNames.step), node: t })
  return {
    graph: graph(`${g.name}_adamw`, [...g.inputs, lr, step, ...state], outputs),
    params: params.map((p) => ({ name: p.attrs.name, shape: p.shape as number[] }))
  }
}

/**
 * One AdamW step over graph `g` minimizing its output `loss` (a float32 scalar), for
 * every float32 parameter the loss uses. Inputs: `g`'s inputs, `lr`, `adam.step`, and
 * `adam.m.<p>` / `adam.v.<p>` per parameter; the parameters themselves are `Param`
 * nodes (emit them without weights and they become graph inputs). Outputs: `g`'s
 * outputs, `grad_norm`, and `next.<p>`, `next.adam.m.<p>`, `next.adam.v.<p>`,
 * `next.adam.step`.
 */
export const adamwStep = (g: Graph, loss: string, opts: AdamWOptions = adamwDefaults): E.Either<CmgaError, TrainStep> => {
  const out = g.outputs.find((o) => o.name === loss)
  if (out === undefined) return fail('usage', `adamwStep: graph ${g.name} has no output "${loss}"`)
  if (out.node.dtype !== 'float32' || out.node.shape.length !== 0) return fail('shape', `adamwStep: loss "${loss}" must be a float32 scalar, got ${showType(out.node)}`)
  const bad = paramsOf(g).find((p) => p.dtype !== 'float32' || !p.shape.every((d) => typeof d === 'number'))
  if (bad !== undefined) return fail('shape', `adamwStep: parameter "${bad.attrs.name}" must be float32 with a static shape, got ${showType(bad)}`)
  const taken = new Set(g.inputs.map((i) => i.attrs.name))
  const clash = [trainNames.lr, trainNames.step].find((n) => taken.has(n))
  if (clash !== undefined) return fail('usage', `adamwStep: graph ${g.name} already has an input "${clash}"`)
  const { beta1, beta2, eps, weightDecay, clipNorm } = opts
  const range = [beta1, beta2].every((b) => b >= 0 && b < 1) && eps > 0 && weightDecay >= 0 && (clipNorm === undefined || clipNorm > 0)
  if (!range) return fail('usage', `adamwStep: need 0 <= betas < 1, eps > 0, weight decay >= 0 and a positive clip norm, got ${JSON.stringify({ beta1, beta2, eps, weightDecay, clipNorm })}`)
  return tryBuild(() => build(g, out.node, opts))
}
