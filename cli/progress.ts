/**
 * Progress on stderr: a bar (cli-progress) when stderr is a terminal; otherwise, so that
 * logs and pipes still show a long command moving, one line every few seconds with the
 * phase, the counts and the rate, e.g. `eval retrieval: images 120/500 (24/s)`.
 * @since 0.1.0
 */
import cliProgress from 'cli-progress'

/** A bar with a phase label. */
export interface Progress {
  /** Shows `done` of `total` in `phase` (a new phase restarts the bar and the rate). */
  readonly update: (phase: string, done: number, total: number) => void
  readonly stop: () => void
}

/** How a progress reporter behaves (the defaults are the real terminal and clock). */
export interface ProgressOptions {
  /** Draw a bar (default: whether stderr is a terminal). */
  readonly tty?: boolean
  /** Milliseconds between log lines when not a terminal (default 5000). */
  readonly interval?: number
  /** The clock, in milliseconds. */
  readonly now?: () => number
}

/** A progress bar on a terminal. */
const bar = (): Progress => {
  const b = new cliProgress.SingleBar(
    { format: '{phase} [{bar}] {value}/{total} {percentage}% | {duration_formatted} elapsed, {eta_formatted} left', stream: process.stderr, hideCursor: true, etaBuffer: 20 },
    cliProgress.Presets.shades_classic
  )
  let current: string | null = null
  return {
    update: (phase, done, total) => {
      if (phase !== current) {
        if (current !== null) b.stop()
        current = phase
        b.start(total, done, { phase })
      } else b.update(done, { phase })
    },
    stop: () => {
      if (current !== null) b.stop()
      current = null
    }
  }
}

/** Log lines, at most one per `interval`: `LABEL: PHASE DONE/TOTAL (RATE/s)`; short runs print nothing. */
const lines = (label: string, log: (line: string) => void, interval: number, now: () => number): Progress => {
  let last = now()
  let phase: string | null = null
  let phaseStart = last
  let phaseFirst = 0
  return {
    update: (p, done, total) => {
      const t = now()
      if (p !== phase) {
        phase = p
        phaseStart = t
        phaseFirst = done
      }
      if (t - last < interval) return
      last = t
      const rate = (done - phaseFirst) / Math.max((t - phaseStart) / 1000, 1e-3)
      log(`${label}: ${p} ${done}/${total} (${rate >= 10 ? rate.toFixed(0) : rate.toFixed(1)}/s)`)
    },
    stop: () => undefined
  }
}

/** Progress of the command `label`: a bar on a terminal, else log lines through `log`. */
export const progressReporter = (label: string, log: (line: string) => void, o: ProgressOptions = {}): Progress =>
  (o.tty ?? process.stderr.isTTY === true) ? bar() : lines(label, log, o.interval ?? 5000, o.now ?? Date.now)
