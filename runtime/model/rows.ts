/**
 * Row operations on host tensors (dim 0 is the batch): gather, concatenate, split,
 * repeat. The runtime uses them to batch and unbatch requests.
 * @since 0.1.0
 */
import type { DataOf, HostTensor } from '../../compiler/ir/tensor.js'
import type { DType } from '../../compiler/ir/dtype.js'
import { zeros } from '../../compiler/ir/tensor.js'

/** Elements per row (the product of every dim but the first). */
export const rowSize = (t: HostTensor): number => t.shape.slice(1).reduce((a, b) => a * b, 1)

/** Rows `indices` of `t`, in that order (an index may repeat). */
export const takeRows = <D extends DType>(t: HostTensor<D>, indices: readonly number[]): HostTensor<D> => {
  const n = rowSize(t)
  const out = zeros(t.dtype, [indices.length, ...t.shape.slice(1)])
  const src = t.data as unknown as { subarray(a: number, b: number): ArrayLike<number | bigint> }
  const dst = out.data as unknown as { set(a: ArrayLike<number | bigint>, o: number): void }
  indices.forEach((r, k) => {
    if (!Number.isInteger(r) || r < 0 || r >= t.shape[0]) throw new RangeError(`takeRows: row ${r} of ${t.shape[0]}`)
    dst.set(src.subarray(r * n, (r + 1) * n), k * n)
  })
  return out
}

/** Rows `[from, to)` of `t` (a copy). */
export const sliceRows = <D extends DType>(t: HostTensor<D>, from: number, to: number): HostTensor<D> => {
  const n = rowSize(t)
  const data = (t.data as unknown as { slice(a: number, b: number): DataOf[D] }).slice(from * n, to * n)
  return { dtype: t.dtype, shape: [to - from, ...t.shape.slice(1)], data }
}

/** Same-shaped tensors (but for dim 0) stacked along dim 0. */
export const concatRows = <D extends DType>(ts: readonly HostTensor<D>[]): HostTensor<D> => {
  if (ts.length === 1) return ts[0]
  const tail = ts[0].shape.slice(1)
  for (const t of ts) {
    if (!sameRowShape(t, ts[0])) {
      throw new RangeError(`concatRows: [${t.shape.join(', ')}] ${t.dtype} does not stack on [${ts[0].shape.join(', ')}] ${ts[0].dtype}`)
    }
  }
  const out = zeros(ts[0].dtype, [ts.reduce((a, t) => a + t.shape[0], 0), ...tail])
  const dst = out.data as unknown as { set(a: ArrayLike<number | bigint>, o: number): void }
  let o = 0
  for (const t of ts) {
    dst.set(t.data as unknown as ArrayLike<number | bigint>, o)
    o += t.data.length
  }
  return out
}

/** Whether two tensors have the same dtype and shape but for dim 0. */
export const sameRowShape = (a: HostTensor, b: HostTensor): boolean =>
  a.dtype === b.dtype && a.shape.length === b.shape.length && a.shape.every((d, i) => i === 0 || d === b.shape[i])

/** `t` [N, l, ...] zero-padded along dim 1 to length `L` >= l (a copy unless l is already L). */
export const padDim1 = <D extends DType>(t: HostTensor<D>, L: number): HostTensor<D> => {
  const l = t.shape[1]
  if (l === L) return t
  if (l > L) throw new RangeError(`padDim1: length ${l} exceeds ${L}`)
  const inner = t.shape.slice(2).reduce((a, b) => a * b, 1)
  const out = zeros(t.dtype, [t.shape[0], L, ...t.shape.slice(2)])
  const src = t.data as unknown as { subarray(a: number, b: number): ArrayLike<number | bigint> }
  const dst = out.data as unknown as { set(a: ArrayLike<number | bigint>, o: number): void }
  for (let r = 0; r < t.shape[0]; r++) dst.set(src.subarray(r * l * inner, (r + 1) * l * inner), r * L * inner)
  return out
}
