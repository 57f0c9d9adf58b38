/**
 * Keep-rate warm-up (EViT's schedule): training starts with keep rate 1 and follows a
 * cosine down to the configured rate over the warm-up steps. Token counts are static
 * in a compiled graph, so the schedule is quantized: the rate is rounded to one of a
 * few evenly spaced levels between 1 and the configured rate, levels that give the
 * same token counts share one graph, and training switches graphs as the level drops.
 * With 4 levels (the default) at most 4 train-step graphs are compiled; the step where
 * a level starts is where the cosine crosses the midpoint to the previous level.
 *
 * Keep rate 1 is compression with every candidate kept: spec section 5's formula then
 * appends a fused token whose weights are all 0 (a zero vector), as a compiled model
 * with `keepRate: 1` does, so the warm-up graphs are the same model, not plain ViTs.
 * @since 0.1.0
 */
import type { CmgaConfig } from './config.js'
import { keptCounts } from './config.js'

/** The cosine warm-up: 1 at step 0, the configured rate from step `warmup` on. */
export const keepRateAt = (target: number, warmup: number, step: number): number =>
  warmup <= 0 || step >= warmup ? target : target + (1 - target) * 0.5 * (1 + Math.cos((Math.PI * step) / warmup))

/** `levels` keep rates evenly spaced from 1 down to `target` (just `[target]` when it is 1). */
export const keepRateLevels = (target: number, levels: number): readonly number[] =>
  target === 1 || levels < 2 ? [target] : Array.from({ length: levels }, (_, k) => (k === levels - 1 ? target : 1 - ((1 - target) * k) / (levels - 1)))

/** The schedule's rate at `step`, rounded to the nearest level. */
export const quantizedKeepRate = (target: number, warmup: number, step: number, levels = 4): number => {
  const ls = keepRateLevels(target, levels)
  if (ls.length === 1) return target
  const k = Math.round(((1 - keepRateAt(target, warmup, step)) / (1 - target)) * (ls.length - 1))
  return ls[Math.min(Math.max(k, 0), ls.length - 1)]
}

/** The config with another keep rate. */
export const withKeepRate = (c: CmgaConfig, keepRate: number): CmgaConfig => ({ ...c, compression: { ...c.compression, keepRate } })

/** What a keep rate compiles to: the token counts after each compression layer (equal keys, equal graphs). */
export const tokenSchedule = (c: CmgaConfig, keepRate: number): string =>
  keptCounts(withKeepRate(c, keepRate))
    .map((k) => k.tokensAfter)
    .join(',')
