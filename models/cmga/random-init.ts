/**
 * Seeded random weights for a config (`cmga compile --random-init SEED`), initialized as
 * ALBEF/timm do: truncated-normal-like N(0, 0.02) matrices, zero biases, unit norms.
 * @since 0.1.0
 */
import type { HostTensor } from '../../compiler/ir/tensor.js'
import { sizeOf } from '../../compiler/ir/tensor.js'
import type { CmgaConfig } from './config.js'
import { parameterList } from './params.js'

/** mulberry32: a small, fast, seeded PRNG. */
export const prng = (seed: number): (() => number) => {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** Standard normal draws by Box-Muller, clipped to two standard deviations. */
const normal = (rand: () => number): number => {
  const z = Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand())
  return Math.max(-2, Math.min(2, z))
}

/** Every parameter of the config, drawn from `seed` (matrices with standard deviation `std`). */
export const randomWeights = (c: CmgaConfig, seed: number, std = 0.02): ReadonlyMap<string, HostTensor<'float32'>> => {
  const rand = prng(seed)
  const out = new Map<string, HostTensor<'float32'>>()
  for (const p of parameterList(c)) {
    const data = new Float32Array(sizeOf(p.shape))
    const isNorm = /(norm\d?|LayerNorm|\.norm)\.weight$/.test(p.name)
    if (p.name === 'temp') data[0] = 0.07
    else if (isNorm) data.fill(1)
    else if (!p.name.endsWith('.bias') && p.name !== 'text_encoder.cls.predictions.bias') {
      for (let i = 0; i < data.length; i++) data[i] = std * normal(rand)
    }
    out.set(p.name, { dtype: 'float32', shape: p.shape, data })
  }
  return out
}
