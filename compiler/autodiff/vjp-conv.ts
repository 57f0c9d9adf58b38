/**
 * The Conv gradient (no padding, any kernel and stride). With stride == kernel over
 * divisible spatial dims (the ViT patch embedding) the patches are a reshape of x;
 * otherwise they are gathered with a constant index table (im2col), and the input
 * gradient scatter-adds the patch gradients back, so overlapping windows (stride <
 * kernel) add up and pixels no window covers get zero.
 * @since 0.1.0
 */
import type { OpAttrs, Shape } from '../ir/ops.js'
import { fromNumbers } from '../ir/tensor.js'
import { raise } from '../errors.js'
import type { Node } from '../ir/node.js'
import { constant, gather, matmul, mT, reshape, scatterNDAdd, sum, transpose, unsqueeze } from '../ir/build.js'
import { zerosOf } from './helpers.js'
import type { Vjp } from './vjp.js'


const show = (s: Shape | readonly number[]): string => `[${s.join(',')}]`

/** The patches [N, L, C*kh*kw] of x [N, C, H, W] and how to send patch gradients back to x. */
interface Im2col {
  readonly patches: Node
  readonly back: (gPatches: Node) => Node
}

/** Non-overlapping windows that tile x exactly: reshapes and transposes only. */
const tiled = (x: Node, C: number, [kh, kw]: readonly number[], [Ho, Wo]: readonly number[]): Im2col => {
  const N = x.shape[0]
  const K = C * kh * kw
  return {
    patches: reshape(transpose(reshape(x, [N, C, Ho, kh, Wo, kw]), [0, 2, 4, 1, 3, 5]), [N, Ho * Wo, K]),
    back: (gp) => reshape(transpose(reshape(gp, [N, Ho, Wo, C, kh, kw]), [0, 3, 1, 4, 2, 5]), x.shape)
  }
}

/** Any windows: gathered by a constant [L, kh*kw] table of flat spatial positions. */
const gathered = (x: Node, [C, H, W]: readonly number[], [kh, kw]: readonly number[], [sh, sw]: readonly number[], [Ho, Wo]: readonly number[]): Im2col => {
  const N = x.shape[0]
  const [L, P] = [Ho * Wo, kh * kw]
  const table: number[] = []
  for (let ho = 0; ho < Ho; ho++) for (let wo = 0; wo < Wo; wo++) for (let i = 0; i < kh; i++) for (let j = 0; j < kw; j++) table.push((ho * sh + i) * W + wo * sw + j)
  const idx = constant(fromNumbers('int64', [L, P], table))
  const flat = reshape(x, [N, C, H * W])
  return {
    // [N, C, L, P] -> [N, L, C, P] -> [N, L, C*P]: the weight's (c, i, j) order
    patches: reshape(transpose(gather(flat, idx, 2), [0, 2, 1, 3]), [N, L, C * P]),
    back: (gp) => {
      const updates = transpose(reshape(gp, [N, L, C, P]), [1, 3, 0, 2]) // [L, P, N, C]
      const summed = scatterNDAdd(zerosOf(gp.dtype, [H * W, N, C]), unsqueeze(idx, 2), updates) // [H*W, N, C]
      return reshape(transpose(summed, [1, 2, 0]), x.shape)
    }
  }
}

/** Conv: `y[n, o, l] = patches[n, l, :] . w[o, :]`, so both gradients are products with the patches. */
export const convGrad: Vjp<OpAttrs['Conv']> = (n, g) => {
  const [x, w, bias] = n.inputs
  const { kernel, strides } = n.attrs
  const [, C, H, W] = x.shape
  if (typeof C !== 'number' || typeof H !== 'number' || typeof W !== 'number') {
    return raise('shape', `Conv gradient needs static channels and spatial dims, got x ${show(x.shape)}`)
  }
  const [Ho, Wo] = [n.shape[2], n.shape[3]] as number[]
  const O = w.shape[0]
  const K = C * kernel[0] * kernel[1]
  const exact = strides[0] === kernel[0] && strides[1] === kernel[1] && H % kernel[0] === 0 && W % kernel[1] === 0
  const im = exact ? tiled(x, C, kernel, [Ho, Wo]) : gathered(x, [C, H, W], kernel, strides, [Ho, Wo])
  const N = x.shape[0]
  const gy = reshape(transpose(g, [0, 2, 3, 1]), [N, Ho * Wo, O]) // [N, L, O]
  const gx = im.back(matmul(gy, reshape(w, [O, K])))
  const gw = reshape(sum(matmul(mT(gy), im.patches), 0), w.shape)
  return bias === undefined ? [gx, gw] : [gx, gw, sum(g, [0, 2, 3])]
}
