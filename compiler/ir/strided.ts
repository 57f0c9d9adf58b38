/**
 * Walking a strided view in row-major order: the one loop behind the interpreter's views,
 * host-tensor transposes (constant folding, compile-time weight transposes) and tensors
 * rebuilt from checkpoint storages.
 * @since 0.1.0
 */
import type { HostTensor } from './tensor.js'
import { sizeOf, zeros } from './tensor.js'

/** Row-major strides of a shape. */
export const stridesOf = (shape: readonly number[]): number[] => {
  const strides = new Array<number>(shape.length)
  let s = 1
  for (let k = shape.length - 1; k >= 0; k--) {
    strides[k] = s
    s *= shape[k]
  }
  return strides
}

/** Whether a view of `shape` with `strides` reads its elements in row-major order (axes of size 1 aside). */
export const isRowMajor = (shape: readonly number[], strides: readonly number[]): boolean => {
  const rowMajor = stridesOf(shape)
  return strides.every((s, i) => shape[i] === 1 || s === rowMajor[i])
}

/**
 * Calls `visit(k, pos)` for each element `k` of `shape` in row-major order, where `pos`
 * is `offset + sum(index[d] * strides[d])` (stride 0 repeats an axis).
 */
export const forEachStrided = (shape: readonly number[], strides: readonly number[], offset: number, visit: (k: number, pos: number) => void): void => {
  const n = sizeOf(shape)
  const index = new Array<number>(shape.length).fill(0)
  let pos = offset
  for (let k = 0; k < n; k++) {
    visit(k, pos)
    for (let d = shape.length - 1; d >= 0; d--) {
      index[d]++
      pos += strides[d]
      if (index[d] < shape[d]) break
      pos -= strides[d] * shape[d]
      index[d] = 0
    }
  }
}

/** `t` with its axes permuted: an exact row-major copy in its own dtype, into `out` when given (a tensor of the permuted shape). */
export const transposeTensor = (t: HostTensor, perm: readonly number[], out: HostTensor = zeros(t.dtype, perm.map((p) => t.shape[p]))): HostTensor => {
  const inStrides = stridesOf(t.shape)
  const src = t.data as unknown as ArrayLike<number | bigint>
  const dst = out.data as unknown as { [i: number]: number | bigint }
  forEachStrided(perm.map((p) => t.shape[p]), perm.map((p) => inStrides[p]), 0, (k, pos) => (dst[k] = src[pos]))
  return out
}
