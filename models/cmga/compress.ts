/**
 * Spec section 5, `compress`: guided token dropping with a fused token (EViT placement:
 * after the attention residual, before the MLP of the same block).
 * @since 0.1.0
 */
import type { F32, I64 } from '../../dsl/index.js'
import {
  add, cast, concat, div, gatherRows, linear, matmul, maximum, mean, mT, mul, oneHot,
  reshape, slice, softmax, sub, sum, topk, unsqueeze
} from '../../dsl/index.js'
import { raise } from '../../compiler/errors.js'
import { size } from './layers.js'
import type { Linear } from './params.js'

/** Where the text guidance comes from, when a mode uses it. */
export interface TextGuide {
  /** The paired text's [CLS] state `t_cls` [B, Dt]. */
  readonly tCls: F32
  /** The block's `attn.qkv` (its query rows make `q_t`). */
  readonly qkv: Linear
}

/** The result of one compression: the new sequence and the kept candidate indices. */
export interface Compressed {
  readonly x: F32
  /** [B, Kn], ascending. */
  readonly keep: I64
  /** The guidance score `s` [B, M] over candidates (the fusion weights are `s` on the dropped ones, normalized). */
  readonly scores: F32
}

/** `a_img[b, i] = mean_h A[b, h, 0, 1+i]`, normalized to sum 1 over candidates. */
export const imageGuidance = (A: F32): F32 => {
  const T = size(A.shape[3])
  const row = mean(slice(slice(A, 2, 0, 1), 3, 1, T), [1, 2]) // [B, M]
  return div(row, sum(row, -1, true))
}

/** `a_txt[b, i] = mean_h softmax_i(q_t[b, h] . k[b, h, 1+i] / sqrt(dh))`. */
export const textGuidance = (keys: F32, guide: TextGuide): F32 => {
  const [B, H, T, dh] = keys.shape
  const D = size(H) * size(dh)
  const q = linear(guide.tCls, slice(guide.qkv.weight, 0, 0, D), slice(guide.qkv.bias, 0, 0, D)) // [B, D]
  const qh = reshape(q, [B, H, 1, dh])
  const candidates = slice(keys, 2, 1, size(T)) // [B, H, M, dh]
  const logits = mul(matmul(qh, mT(candidates)), 1 / Math.sqrt(size(dh))) // [B, H, 1, M]
  return mean(softmax(logits, -1), [1, 2]) // [B, M]
}

/**
 * `compress(x, A, k, t_cls)`: keep the `kept` candidates with the largest guidance score
 * `s = beta a_img + (1 - beta) a_txt` (ascending index order), and fuse the rest into one
 * token weighted by their normalized scores.
 */
export const compress = (x: F32, A: F32, keys: F32, beta: number, kept: number, guide?: TextGuide): Compressed => {
  const T = size(x.shape[1])
  const M = T - 1
  const text = (): F32 => (guide === undefined ? raise('shape', `compression with image weight ${beta} needs the text guide (text_cls)`) : textGuidance(keys, guide))
  const s = beta === 1 ? imageGuidance(A) : beta === 0 ? text() : add(mul(imageGuidance(A), beta), mul(text(), 1 - beta))
  const top = topk(s, kept, -1, true).indices // [B, Kn] by score, ties to the lower index
  const keep = cast(topk(cast(top, 'float32'), kept, -1, false).values, 'int64') // ascending
  const candidates = slice(x, 1, 1, T) // [B, M, D]
  const keptMask = sum(oneHot(keep, M), 1) // [B, M], 1 where kept
  const w0 = mul(s, sub(1, keptMask))
  const w = div(w0, maximum(sum(w0, -1, true), 1e-12))
  const fused = matmul(unsqueeze(w, 1), candidates) // [B, 1, D]
  return { x: concat([slice(x, 1, 0, 1), gatherRows(candidates, keep), fused], 1), keep, scores: s }
}
