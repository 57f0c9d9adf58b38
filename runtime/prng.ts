/**
 * Seeded random numbers: one small generator for random weights, sample inputs, data
 * pipelines and tests, so every run with the same seed is the same.
 * @since 0.1.0
 */

/** mulberry32: a tiny, fast, seeded PRNG giving floats in [0, 1). */
export const mulberry32 = (seed: number): (() => number) => {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** A standard normal draw (Box-Muller) from a uniform generator. */
export const normal = (rand: () => number): number => Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand())
