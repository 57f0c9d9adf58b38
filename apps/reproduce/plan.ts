/**
 * What `cmga reproduce` runs: the shapes-world sets, the three models trained on the
 * same data and step budget (CMGA at keep rate 0.7, CMGA at keep rate 1.0, and a
 * CLIP-style model: ITC alone, no compression, the same size), and how each is
 * evaluated. A plan is data; `reproduce.ts` carries it out.
 * @since 0.1.0
 */
import type { CmgaConfig } from '../../models/cmga/config.js'

// -------------------------------------------------------------------------------------
// model
// -------------------------------------------------------------------------------------

/** One model of the comparison. */
export interface ModelPlan {
  /** File-system name (`cmga-0.7`). */
  readonly name: string
  /** What the results table calls it. */
  readonly label: string
  /** The keep rate of its compression layers (1 keeps every token). */
  readonly keepRate: number
  /** Whether it has compression layers at all (the CLIP-style model has none). */
  readonly compress: boolean
  /** `cmga train --objectives`. */
  readonly objectives: string
  /** How stage 1 ranks: the spec's global + local score, or the global score alone (CLIP). */
  readonly stage1: 'global+local' | 'global'
  /** Whether it has a trained ITM head, so re-ranking means something. */
  readonly rerank: boolean
  /** `cmga train` flags of this model alone. */
  readonly trainFlags?: readonly string[]
  /** Whether its ITM head is then trained alone for the plan's `head` phase. */
  readonly headPhase?: boolean
}

/**
 * A second phase for a model's ITM head: `cmga train --objectives itm --itm-detach` from
 * the trained weights, so only the relation module and the ITM head learn and stage 1
 * (the encoders, the projections) stays exactly as trained.
 */
export interface HeadPhase {
  readonly steps: number
  /** Its `cmga train` flags (objectives, negatives, augmentation, schedule). */
  readonly flags: readonly string[]
}

/** The whole reproduction. */
export interface ReproducePlan {
  readonly trainCount: number
  readonly testCount: number
  /** Held-out images whose object masks measure what the compression keeps. */
  readonly coverageCount: number
  readonly trainSeed: number
  /** The held-out set's seed: another draw from the same world. */
  readonly testSeed: number
  /** Validation pairs, a third seed: the combined rule's weight is chosen on them, never on the held-out set. */
  readonly validationCount: number
  readonly validationSeed: number
  /** The combined rule's weights tried (`eval retrieval --itm-weight-sweep`). */
  readonly itmWeights: readonly number[]
  /** Image size of the world and the models. */
  readonly size: number
  readonly steps: number
  readonly batch: number
  readonly lr: number
  /** Extra `cmga train` flags shared by every model (the recipe). */
  readonly trainFlags: readonly string[]
  /** Stage-1 recall is measured every this many steps (the recall-vs-step curve). */
  readonly evalEvery: number
  /** The ITM-head phase of the models that ask for one. */
  readonly head: HeadPhase
  /** Candidates re-ranked per query. */
  readonly k: number
  /** Rounds of the side-by-side vision-encoder timing. */
  readonly timingRounds: number
  readonly models: readonly ModelPlan[]
}

// -------------------------------------------------------------------------------------
// the plans
// -------------------------------------------------------------------------------------

/** The three models of issue 11. */
export const comparedModels: readonly ModelPlan[] = [
  // Keep-rate warm-up (EViT's): measured without it, keep 0.7 trained at the same steps
  // ended at ITC loss 0.39 against keep 1.0's 0.22 (token dropping guided by an
  // untrained model drops object patches from the first step on).
  // Its ITM head then trains alone (below; the head phase, left out by `--no-head-phase`):
  // the model whose re-ranking issue 11's targets measure and which is shipped. The keep
  // 1.0 model does without. Stage 1 of either is unchanged by it.
  { name: 'cmga-0.7', label: 'CMGA (keep 0.7)', keepRate: 0.7, compress: true, objectives: 'itc,ftc,itm', stage1: 'global+local', rerank: true, trainFlags: ['--warmup-keep', '1000'], headPhase: true },
  { name: 'cmga-1.0', label: 'CMGA (keep 1.0)', keepRate: 1, compress: true, objectives: 'itc,ftc,itm', stage1: 'global+local', rerank: true },
  { name: 'clip', label: 'CLIP-style (ITC only, no compression)', keepRate: 1, compress: false, objectives: 'itc', stage1: 'global', rerank: false }
]

/**
 * The recipe every model is trained with (README, "The paper's claim on the shapes world").
 * Half of each batch near-miss partners, and half of those partners the relation reversed
 * (`--near-miss-focus`): with the query/key initialisation of `cmga train` (0.2), keep 0.7
 * on 3000 steps then learned the relation (stage 1 beat the reversed relation on 99 / 98%
 * of held-out images, left-right / above-below; stage-1 mean recall 88.0) where without
 * the focus it stayed near chance (81.4, seed 0 both).
 */
export const recipeFlags: readonly string[] = ['--flip', 'swap', '--lr-floor', '0', '--max-length', '10', '--near-misses', '0.5', '--near-miss-focus', 'left,right,above,below:0.5']

/**
 * The ITM head's own phase. Measured on the recorded run (docs/reproduce/results.md): with
 * the recipe's ITM the head re-ranks 7.3 points under stage 1 after 3000 steps (80.7 against
 * 88.0); alone on the frozen encoders for 3000 steps, half its negatives near-miss partners
 * and half the batch's hardest other captions, it re-ranks above stage 1 (88.9, the
 * combined rule 88.7). The run before, whose encoders lacked the relation, got it level
 * with stage 1 and no further (docs/reproduce/missed-targets.md).
 */
export const headPhase: HeadPhase = {
  steps: 3000,
  flags: ['--objectives', 'itm', '--itm-detach', '--itm-negatives', 'partner', '--near-misses', '0.25', '--near-miss-spans', '--flip', 'swap', '--lr-floor', '0', '--max-length', '10']
}

/** The recorded run: fits in the hour on 2 cores. */
export const fullPlan: ReproducePlan = {
  trainCount: 30000,
  testCount: 500,
  coverageCount: 100,
  trainSeed: 0,
  testSeed: 1000,
  validationCount: 500,
  validationSeed: 2000,
  itmWeights: [0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1],
  size: 32,
  steps: 3000,
  batch: 64,
  lr: 5e-4,
  trainFlags: recipeFlags,
  evalEvery: 250,
  head: headPhase,
  k: 16,
  timingRounds: 30,
  models: comparedModels
}

/** `--quick`: the same pipeline at toy size, for CI (a few minutes). */
export const quickPlan: ReproducePlan = {
  ...fullPlan,
  trainCount: 200,
  testCount: 40,
  validationCount: 40,
  coverageCount: 8,
  steps: 10,
  batch: 8,
  evalEvery: 5,
  head: { ...headPhase, steps: 6 },
  k: 4,
  timingRounds: 3
}

/** The plan without its head phase (`cmga reproduce --no-head-phase`). */
export const withoutHeadPhase = (p: ReproducePlan): ReproducePlan => ({ ...p, models: p.models.map((m) => (m.headPhase === true ? { ...m, headPhase: false } : m)) })

/** The model's config: the shapes config with this model's compression. */
export const configFor = (base: CmgaConfig, m: ModelPlan): CmgaConfig => ({
  ...base,
  compression: m.compress ? { ...base.compression, keepRate: m.keepRate } : { ...base.compression, layers: [], keepRate: 1 }
})
