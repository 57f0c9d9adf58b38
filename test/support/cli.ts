/**
 * Runs the `cmga` CLI in-process and captures what it prints.
 * @since 0.1.0
 */
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { main } from '../../cli/main.js'

/** Exit code and printed lines of one CLI run. */
export interface CliRun {
  readonly code: number
  readonly stdout: string[]
  readonly stderr: string[]
}

/** `cmga ...args`, in-process. */
export const cli = async (...args: string[]): Promise<CliRun> => {
  const stdout: string[] = []
  const stderr: string[] = []
  const code = await main(args, (s) => stdout.push(s), (s) => stderr.push(s))
  return { code, stdout, stderr }
}

/** A fresh temporary directory. */
export const tempDir = (prefix = 'cmga-test-'): string => mkdtempSync(join(tmpdir(), prefix))

/** The error line of a failed run (the one starting with `cmga:`). */
export const errorLine = (r: CliRun): string => r.stderr.filter((l) => l.startsWith('cmga:')).join('\n')
