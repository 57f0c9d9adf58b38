/**
 * A config file read from disk (the model layer only decodes values: `decodeConfig`).
 * @since 0.1.0
 */
import * as fs from 'node:fs'
import type * as E from 'fp-ts/lib/Either.js'
import { type CmgaError, fail, readProblem } from '../../compiler/errors.js'
import type { CmgaConfig } from '../../models/cmga/config.js'
import { decodeConfig } from '../../models/cmga/config.js'

/** Reads and decodes a JSON config file: `io` if unreadable, `config` if bad (naming the file). */
export const readConfigFile = (path: string): E.Either<CmgaError, CmgaConfig> => {
  let text: string
  try {
    text = fs.readFileSync(path, 'utf8')
  } catch (e) {
    return fail('io', `cannot read config ${path}: ${readProblem(e)}`)
  }
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch (e) {
    return fail('config', `${path}: invalid JSON: ${(e as Error).message}`)
  }
  return decodeConfig(json, path)
}
