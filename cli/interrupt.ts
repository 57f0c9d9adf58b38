/**
 * SIGINT and SIGTERM in long commands (train, index, eval retrieval, reproduce): the
 * first signal prints one line saying what was kept and how to continue, then the
 * process exits 130 (SIGINT) or 143 (SIGTERM), as a shell reports a killed command.
 * Every file these commands write is written atomically, so stopping between two
 * writes leaves nothing half-written.
 * @since 0.1.0
 */

/** The exit code of a command stopped by a signal: 128 + its number. */
export const signalExitCode = { SIGINT: 130, SIGTERM: 143 } as const

/**
 * Runs `f` with SIGINT and SIGTERM handled: on the first signal, `before` runs (e.g. to
 * stop child processes), `kept()` is printed after `cmga: interrupted (SIGNAL): ` on
 * stderr and the process exits. The handlers are removed when `f` settles.
 */
export const whileInterruptible = async <A>(kept: () => string, f: () => Promise<A>, before: () => void = () => undefined): Promise<A> => {
  const handler = (signal: keyof typeof signalExitCode): void => {
    try {
      before()
    } finally {
      process.stderr.write(`cmga: interrupted (${signal}): ${kept()}\n`)
      process.exit(signalExitCode[signal])
    }
  }
  process.once('SIGINT', handler)
  process.once('SIGTERM', handler)
  try {
    return await f()
  } finally {
    process.removeListener('SIGINT', handler)
    process.removeListener('SIGTERM', handler)
  }
}
