/**
 * Spec section 3: the primitives every encoder is built from.
 * @since 0.1.0
 */
import type { Dim, F32 } from '../../dsl/index.js'
import { add, gelu, layerNorm, linear, matmul, mT, mul, reshape, softmax, transpose } from '../../dsl/index.js'
import { raise } from '../../compiler/errors.js'
import type { Linear, Norm } from './params.js'

/** `LN(x; w, b, eps)` over the last axis, biased variance. */
export const LN = (x: F32, p: Norm, eps: number): F32 => layerNorm(x, p.weight, p.bias, eps)

/** A PyTorch `Linear` applied to the last axis. */
export const dense = (x: F32, p: Linear): F32 => linear(x, p.weight, p.bias)

/** `fc2(GELU(fc1(x)))`: the transformer MLP. */
export const mlp = (x: F32, fc1: Linear, fc2: Linear): F32 => dense(gelu(dense(x, fc1)), fc2)

/** [B, T, H*dh] -> [B, H, T, dh]. */
export const splitHeads = (x: F32, heads: number): F32 => {
  const [B, T, D] = x.shape
  return transpose(reshape(x, [B, T, heads, size(D) / heads]), [0, 2, 1, 3])
}

/** [B, H, T, dh] -> [B, T, H*dh]. */
export const mergeHeads = (x: F32): F32 => {
  const [B, H, T, dh] = x.shape
  return reshape(transpose(x, [0, 2, 1, 3]), [B, T, size(H) * size(dh)])
}

/** What attention computed, for the callers that need more than its output. */
export interface Attended {
  /** `A v` with heads merged: [B, Tq, D]. */
  readonly out: F32
  /** `A`: [B, H, Tq, Tk]. */
  readonly probs: F32
  /** The keys split into heads: [B, H, Tk, dh]. */
  readonly keys: F32
}

/**
 * `MHA(q, k, v, heads, bias)`: `A = softmax(q k^T / sqrt(dh) + bias)` per head over keys,
 * output `A v` with heads merged. `bias` broadcasts against [B, H, Tq, Tk].
 */
export const MHA = (q: F32, k: F32, v: F32, heads: number, bias?: F32): Attended => {
  const dh = size(q.shape[2]) / heads
  const [qh, kh, vh] = [q, k, v].map((t) => splitHeads(t, heads))
  const scores = mul(matmul(qh, mT(kh)), 1 / Math.sqrt(dh))
  const probs = softmax(bias === undefined ? scores : add(scores, bias), -1)
  return { out: mergeHeads(matmul(probs, vh)), probs, keys: kh }
}

/** The static value of a dim; a named one is a build error (these dims are fixed by the config). */
export const size = (d: Dim): number => (typeof d === 'number' ? d : raise('shape', `expected a static dim, got the named dim ${d}`))
