/**
 * Seeded random weights for a config (`cmga compile --random-init SEED`), initialized as
 * ALBEF/timm do: truncated-normal-like N(0, 0.02) matrices, zero biases, unit norms;
 * optionally with larger query and key matrices in the BERT side's attention (`cmga train
 * --init-qk-std`, see `QK_INIT_STD`).
 * @since 0.1.0
 */
import type { HostTensor } from '../../compiler/ir/tensor.js'
import { sizeOf } from '../../compiler/ir/tensor.js'
import type { CmgaConfig } from '../../models/cmga/config.js'
import { parameterList } from '../../models/cmga/params.js'
import { mulberry32, normal } from '../../runtime/prng.js'

/** Standard normal draws clipped to two standard deviations. */
const clippedNormal = (rand: () => number): number => Math.max(-2, Math.min(2, normal(rand)))

/** The query and key matrices of the text and fusion layers' self- and cross-attention. */
export const isBertQueryKey = (name: string): boolean => /^text_encoder\.encoder\.layer\.\d+\.(attention|crossattention)\.self\.(query|key)\.weight$/.test(name)

/**
 * `cmga train`'s default standard deviation of `isBertQueryKey` matrices when it draws its
 * weights. At ALBEF's 0.02 the text layers' attention starts uniform (logits near 0), so a
 * shape word's token carries nothing of the colour before it, and in about half of the
 * seeds measured on the shapes world it never learned to (colours unbound from shapes);
 * at 0.1 and 0.2 the attention starts position-dependent and every seed tried bound them,
 * 0.2 training a little faster (see docs/reproduce/missed-targets.md).
 */
export const QK_INIT_STD = 0.2

/**
 * Every parameter of the config, drawn from `seed`: matrices with standard deviation
 * `std`, those of `isBertQueryKey` with `qkStd` (the same draws, scaled).
 */
export const randomWeights = (c: CmgaConfig, seed: number, std = 0.02, qkStd = std): ReadonlyMap<string, HostTensor<'float32'>> => {
  const rand = mulberry32(seed)
  const out = new Map<string, HostTensor<'float32'>>()
  for (const p of parameterList(c)) {
    const data = new Float32Array(sizeOf(p.shape))
    const isNorm = /(norm\d?|LayerNorm|\.norm)\.weight$/.test(p.name)
    if (p.name === 'temp') data[0] = 0.07
    else if (isNorm) data.fill(1)
    else if (!p.name.endsWith('.bias') && p.name !== 'text_encoder.cls.predictions.bias') {
      const sd = isBertQueryKey(p.name) ? qkStd : std
      for (let i = 0; i < data.length; i++) data[i] = sd * clippedNormal(rand)
    }
    out.set(p.name, { dtype: 'float32', shape: p.shape, data })
  }
  return out
}
