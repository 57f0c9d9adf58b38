/**
 * 16-bit float formats that checkpoints store, decoded to numbers (exact in float32).
 * @since 0.1.0
 */

/** IEEE 754 binary16 bits to the value they encode. */
export const halfToNumber = (h: number): number => {
  const sign = h & 0x8000 ? -1 : 1
  const exp = (h >> 10) & 0x1f
  const frac = h & 0x3ff
  if (exp === 0) return sign * frac * 2 ** -24 // zero or subnormal
  if (exp === 31) return frac === 0 ? sign * Infinity : NaN
  return sign * (1024 + frac) * 2 ** (exp - 25)
}

/** bfloat16 bits (the top half of a float32) to float32 values, in bulk. */
export const bfloat16ToFloat32 = (src: ArrayLike<number>): Float32Array => {
  const bits = new Uint32Array(src.length)
  for (let i = 0; i < src.length; i++) bits[i] = src[i] << 16
  return new Float32Array(bits.buffer)
}
