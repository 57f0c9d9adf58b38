/**
 * Small file helpers of the retrieval tools: atomic text writes (temp file, fsync,
 * rename) and JSON reading with one clear message per failure.
 * @since 0.1.0
 */
import { readFileSync } from 'node:fs'
import * as E from 'fp-ts/lib/Either.js'
import type { CmgaError } from '../../compiler/errors.js'
import { fail, readProblem } from '../../compiler/errors.js'
import { writeFileAtomic } from '../../compiler/atomic.js'

/** Writes text atomically (see compiler/atomic.ts). */
export const writeTextAtomic = (path: string, text: string): E.Either<CmgaError, void> => writeFileAtomic(path, text)

/** Reads and parses a JSON file (`what` names it in messages). */
export const readJson = (path: string, what: string): E.Either<CmgaError, unknown> => {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (e) {
    return fail('io', `${what} ${path}: ${readProblem(e)}`)
  }
  try {
    return E.right(JSON.parse(text) as unknown)
  } catch (e) {
    return fail('format', `${what} ${path}: not valid JSON (${(e as Error).message})`)
  }
}
