/**
 * Walking a strided view in row-major order: the one loop behind the interpreter's views,
 * weight transposes at compile time and tensors rebuilt from checkpoint storages.
 * @since 0.1.0
 */

/**
 * Calls `visit(k, pos)` for each element `k` of `shape` in row-major order, where `pos`
 * is `offset + sum(index[d] * strides[d])` (stride 0 repeats an axis).
 */
export const forEachStrided = (shape: readonly number[], strides: readonly number[], offset: number, visit: (k: number, pos: number) => void): void => {
  const n = shape.reduce((a, b) => a * b, 1)
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
