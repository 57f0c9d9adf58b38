/**
 * The learning-rate schedule the training driver feeds each step (the rate is a graph
 * input, so any schedule works): linear warm-up from 0, then a cosine from the base
 * rate down to `floor` times it at the last step, as ALBEF trains.
 * @since 0.1.0
 */

/** Options of `learningRate`. */
export interface LrSchedule {
  readonly base: number
  /** Total steps of the run. */
  readonly steps: number
  /** Steps of linear warm-up (0: none). */
  readonly warmup: number
  /** The final rate as a fraction of `base` (default 0.01). */
  readonly floor?: number
}

/** The rate of step `step` (0-based). */
export const learningRate = (s: LrSchedule, step: number): number => {
  const floor = s.floor ?? 0.01
  if (step < s.warmup) return (s.base * (step + 1)) / (s.warmup + 1)
  const span = Math.max(1, s.steps - 1 - s.warmup)
  const t = Math.min(1, (step - s.warmup) / span)
  return s.base * (floor + (1 - floor) * 0.5 * (1 + Math.cos(Math.PI * t)))
}
