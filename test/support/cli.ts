/**
 * Runs the `cmga` CLI in-process and captures what it prints.
 * @since 0.1.0
 */
import { mkdtempSync, rmSync } from 'node:fs'
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

/** Every directory `tempDir` made in this process, removed when the process exits. */
const made: string[] = []
process.on('exit', () => {
  for (const dir of made) rmSync(dir, { recursive: true, force: true })
})

/** A fresh temporary directory, removed with everything in it when the test process exits. */
export const tempDir = (prefix = 'cmga-test-'): string => {
  const dir = mkdtempSync(join(tmpdir(), prefix))
  made.push(dir)
  return dir
}

/** The error line of a failed run (the one starting with `cmga:`). */
export const errorLine = (r: CliRun): string => r.stderr.filter((l) => l.startsWith('cmga:')).join('\n')
