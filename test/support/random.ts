/**
 * Seeded random numbers and tensors for tests.
 * @since 0.1.0
 */
import type { DType } from '../../compiler/ir/dtype.js'
import type { HostTensor } from '../../compiler/ir/tensor.js'
import { fromNumbers, sizeOf } from '../../compiler/ir/tensor.js'
import { mulberry32 } from '../../runtime/prng.js'

export { mulberry32 } from '../../runtime/prng.js'

/** Value range of `randomTensor`: floats in [low, high), integers in [low, high). */
export interface Range {
  readonly low?: number
  readonly high?: number
}

/**
 * A tensor of seeded random values: floats uniform in [low, high) (default [-1, 1)),
 * int64 integers in [low, high) (default [0, 10)), bools fair coin flips.
 */
export const randomTensor = <D extends DType>(dtype: D, shape: readonly number[], seed: number, range: Range = {}): HostTensor<D> => {
  const next = mulberry32(seed)
  const n = sizeOf(shape)
  const values = new Float64Array(n)
  if (dtype === 'int64') {
    const low = Math.ceil(range.low ?? 0)
    const high = Math.ceil(range.high ?? 10)
    for (let i = 0; i < n; i++) values[i] = low + Math.floor(next() * (high - low))
  } else if (dtype === 'bool') {
    for (let i = 0; i < n; i++) values[i] = next() < 0.5 ? 1 : 0
  } else {
    const low = range.low ?? -1
    const high = range.high ?? 1
    for (let i = 0; i < n; i++) values[i] = low + next() * (high - low)
  }
  return fromNumbers(dtype, shape, values)
}
