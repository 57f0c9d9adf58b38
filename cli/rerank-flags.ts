/**
 * Scoring flags shared by commands: which visual tokens the ITM head reads when
 * re-ranking (`cmga retrieve`, `cmga eval retrieval`, `cmga eval contrasts`) and what
 * stage 1 ranks by (the two evaluations); the one phrasing of a ranking.
 * @since 0.2.0
 */
import type * as E from 'fp-ts/lib/Either.js'
import type { CmgaError } from '../compiler/errors.js'
import type { RerankGuidance } from '../apps/cmga/runtime.js'
import type { Stage1Score } from '../apps/retrieval/evaluate.js'
import type { RankingDefaults } from '../runtime/model/manifest.js'
import type { Flags, Values } from './command.js'
import { oneOf } from './command.js'

/** The flag's help lines. */
export const rerankGuidanceHelp = `  --rerank-guidance G  the visual tokens the ITM head reads: joint (default, the spec's
                       stage 2: the vision encoder runs again for every pair, its
                       compression guided by the pair's text) or image (each image's
                       text-agnostic tokens, encoded once: a pair costs only the relation
                       module; an approximation, whose recall cmga eval retrieval measures)`

/** The flag's definition. */
export const rerankGuidanceFlagDef: Flags = { 'rerank-guidance': { type: 'string' } }

/** The guidance the flag asks for (default joint). */
export const rerankGuidanceFlag = (cmd: string, values: Values): E.Either<CmgaError, RerankGuidance> => oneOf(cmd, values, 'rerank-guidance', ['joint', 'image'] as const, 'joint')

/** `--stage1`'s help lines. */
export const stage1Help = `  --stage1 SCORE       what stage 1 ranks by: global+local (default, spec section 7)
                       or global (the global score alone, as a CLIP-style model ranks)`

/** `--stage1`'s definition. */
export const stage1FlagDef: Flags = { stage1: { type: 'string' } }

/** What `--stage1` asks stage 1 to rank by (default global+local). */
export const stage1Flag = (cmd: string, values: Values): E.Either<CmgaError, Stage1Score> => oneOf(cmd, values, 'stage1', ['global+local', 'global'] as const, 'global+local')

/** `--itm-weight`'s default where neither the flag nor the model gives one: the combined rule's weight of the ITM log-odds. */
export const defaultItmWeight = 0.1

/**
 * One phrasing of a ranking, the same wherever it is shown (`cmga demo`, `cmga inspect`,
 * `cmga retrieve`'s log): a model's defaults, or what the flags and they chose.
 */
export const describeRanking = (r: RankingDefaults, rule: 'combined' | 'itm' = 'combined'): string => {
  const weight = r.itmWeight ?? defaultItmWeight
  const how =
    r.k === 0
      ? 'stage 1 only (--k 0)'
      : rule === 'itm'
        ? `re-ranking the top ${r.k} by the ITM match probability (--k ${r.k} --rule itm)`
        : `re-ranking the top ${r.k} by stage 1 + ${weight} x ITM log-odds (--k ${r.k} --itm-weight ${weight})`
  return r.why === undefined ? how : `${how}: ${r.why}`
}
