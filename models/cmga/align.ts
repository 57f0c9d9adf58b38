/**
 * Spec section 7: the global (ITC) and local (token-level late interaction) scores.
 * @since 0.1.0
 */
import type { F32, I64 } from '../../dsl/index.js'
import { add, cast, div, matmul, max, mul, normalize, sliceFrom, sub, sum, transpose, unsqueeze } from '../../dsl/index.js'
import { dense, size } from './layers.js'
import type { Linear } from './params.js'
import { clsOf } from './fusion.js'

/** The global features: `normalize(X[:, 0] proj^T + b)` [B, E]. */
export const globalFeature = (X: F32, proj: Linear): F32 => normalize(dense(clsOf(X), proj))

/** The token features: `normalize(X[:, 1:] proj^T + b)` [B, T-1, E]. */
export const tokenFeatures = (X: F32, proj: Linear): F32 => normalize(dense(sliceFrom(X, 1, 1), proj))

/** `score_global[i, j] = g_img[i] . g_txt[j]` [Bi, Bt]. */
export const globalScore = (gImg: F32, gTxt: F32): F32 => matmul(gImg, transpose(gTxt, [1, 0]))

/**
 * `score_local[i, j] = (t2i + i2t) / 2` with `S[i, j, r, k] = t[j, r] . v[i, k]`,
 * `t2i` the mean over valid text tokens of the best visual match, `i2t` the mean over
 * visual tokens of the best valid text match.
 */
export const localScore = (v: F32, t: F32, mask: I64): F32 => {
  const valid = cast(sliceFrom(mask, 1, 1), 'float32') // [Bt, L-1]
  // S[i, j, r, k] = t[j, r] . v[i, k]  ->  [Bi, Bt, L-1, Tv]
  const S = matmul(unsqueeze(t, 0), unsqueeze(transpose(v, [0, 2, 1]), 1))
  const validR = unsqueeze(valid, [0, 3]) // [1, Bt, L-1, 1]
  const t2i = div(sum(mul(max(S, 3), unsqueeze(valid, 0)), 2), unsqueeze(sum(valid, 1), 0)) // [Bi, Bt]
  const masked = add(S, mul(sub(validR, 1), 1e4)) // invalid text rows pushed far down
  const i2t = sum(max(masked, 2), 2) // [Bi, Bt] sum over k of the max over valid r
  const Tv = size(v.shape[1])
  return mul(add(t2i, div(i2t, Tv)), 0.5)
}
