/**
 * The reproduction's steps are `cmga` commands, each run as a child process of this
 * one (the same Node, this package's `bin/cmga.mjs`), so every number it reports is
 * what a user gets from the same command line. Each child's stderr lines are passed on
 * (prefixed) as progress; its stdout is returned.
 * @since 0.1.0
 */
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import * as E from 'fp-ts/lib/Either.js'
import type { CmgaError } from '../../compiler/errors.js'
import { cmgaError } from '../../compiler/errors.js'

const bin = fileURLToPath(new URL('../../bin/cmga.mjs', import.meta.url))

/** The steps running now. */
const running = new Set<ReturnType<typeof spawn>>()

/** Stops the steps running now (SIGTERM: each says what it kept), e.g. when the reproduction is interrupted. */
export const stopSteps = (): void => {
  for (const child of running) child.kill('SIGTERM')
}

/** Runs `cmga ARGS`; its stdout, or an error naming the command and its last stderr lines. */
export const runCmga = (args: readonly string[], log: (line: string) => void, prefix: string): Promise<E.Either<CmgaError, string>> =>
  new Promise((done) => {
    const child = spawn(process.execPath, [bin, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
    running.add(child)
    const out: Buffer[] = []
    const tail: string[] = []
    let partial = ''
    child.stdout.on('data', (b: Buffer) => out.push(b))
    child.stderr.on('data', (b: Buffer) => {
      const lines = (partial + b.toString('utf8')).split(/\r?\n|\r/)
      partial = lines.pop() ?? ''
      for (const l of lines.filter((x) => x.trim() !== '')) {
        log(`${prefix}${l}`)
        tail.push(l)
        if (tail.length > 5) tail.shift()
      }
    })
    child.on('error', (e) => done(E.left(cmgaError('runtime', `cannot start cmga ${args[0]}: ${e.message}`))))
    child.on('close', (code, signal) => {
      running.delete(child)
      if (partial.trim() !== '') tail.push(partial)
      if (code === 0) done(E.right(Buffer.concat(out).toString('utf8')))
      else done(E.left(cmgaError('runtime', `cmga ${args.slice(0, 2).join(' ')} failed (${signal ?? `exit ${code}`}): ${tail.slice(-2).join(' / ') || 'no message'}`)))
    })
  })
