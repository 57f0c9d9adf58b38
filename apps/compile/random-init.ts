/**
 * Seeded random weights for a config (`cmga compile --random-init SEED`), initialized as
 * ALBEF/timm do: truncated-normal-like N(0, 0.02) matrices, zero biases, unit norms.
 * @since 0.1.0
 */
import type { HostTensor } from '../../compiler/ir/tensor.js'
import { sizeOf } from '../../compiler/ir/tensor.js'
import type { CmgaConfig } from '../../models/cmga/config.js'
import { parameterList } from '../../models/cmga/params.js'
import { mulberry32, normal } from '../../runtime/prng.js'

/** Standard normal draws clipped to two standard deviations. */
const clippedNormal = (rand: () => number): number => Math.max(-2, Math.min(2, normal(rand)))

/** Every parameter of the config, drawn from `seed` (matrices with standard deviation `std`). */
export const randomWeights = (c: CmgaConfig, seed: number, std = 0.02): ReadonlyMap<string, HostTensor<'float32'>> => {
  const rand = mulberry32(seed)
  const out = new Map<string, HostTensor<'float32'>>()
  for (const p of parameterList(c)) {
    const data = new Float32Array(sizeOf(p.shape))
    const isNorm = /(norm\d?|LayerNorm|\.norm)\.weight$/.test(p.name)
    if (p.name === 'temp') data[0] = 0.07
    else if (isNorm) data.fill(1)
    else if (!p.name.endsWith('.bias') && p.name !== 'text_encoder.cls.predictions.bias') {
      for (let i = 0; i < data.length; i++) data[i] = std * clippedNormal(rand)
    }
    out.set(p.name, { dtype: 'float32', shape: p.shape, data })
  }
  return out
}
