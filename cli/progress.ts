/**
 * A progress bar on stderr (cli-progress), drawn only when stderr is a terminal, so
 * logs, pipes and tests get none.
 * @since 0.1.0
 */
import cliProgress from 'cli-progress'

/** A bar with a phase label. */
export interface Progress {
  /** Shows `done` of `total` in `phase` (a new phase restarts the bar). */
  readonly update: (phase: string, done: number, total: number) => void
  readonly stop: () => void
}

/** A progress bar, or a silent one when stderr is not a terminal. */
export const progressBar = (): Progress => {
  if (process.stderr.isTTY !== true) return { update: () => undefined, stop: () => undefined }
  const bar = new cliProgress.SingleBar(
    { format: '{phase} [{bar}] {value}/{total} {percentage}% | {duration_formatted} elapsed, {eta_formatted} left', stream: process.stderr, hideCursor: true, etaBuffer: 20 },
    cliProgress.Presets.shades_classic
  )
  let current: string | null = null
  return {
    update: (phase, done, total) => {
      if (phase !== current) {
        if (current !== null) bar.stop()
        current = phase
        bar.start(total, done, { phase })
      } else bar.update(done, { phase })
    },
    stop: () => {
      if (current !== null) bar.stop()
      current = null
    }
  }
}
