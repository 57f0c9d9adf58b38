/**
 * Lists of inputs from files: `--texts-from FILE` (one text a line) beside repeated
 * `--text`, and `--images-from FILE|FOLDER` (one path a line, or every image in a
 * folder) beside repeated `--image`. A list of any length then costs the command line
 * one path: Linux caps one argument at 128 KB (about 20 000 words of caption), and a
 * command line of thousands of paths is slow to pass around.
 * @since 0.1.0
 */
import { readFileSync, statSync } from 'node:fs'
import * as E from 'fp-ts/lib/Either.js'
import type { CmgaError } from '../compiler/errors.js'
import { fail, readProblem } from '../compiler/errors.js'
import { listImagePaths } from '../runtime/images/batch.js'
import type { Values } from './command.js'
import { givenValues } from './command.js'

// -------------------------------------------------------------------------------------
// model
// -------------------------------------------------------------------------------------

/** A list flag and the flag that reads more of it from a file. */
export interface ListFlags {
  /** The repeated flag, e.g. `text`. */
  readonly flag: string
  /** The file flag, e.g. `texts-from`. */
  readonly from: string
}

// -------------------------------------------------------------------------------------
// reading
// -------------------------------------------------------------------------------------

/** The non-empty lines of a file (`-`: standard input), without their line ends. */
const linesOf = (cmd: string, from: string, file: string): E.Either<CmgaError, readonly string[]> => {
  try {
    if (file !== '-' && statSync(file).isDirectory()) return fail('usage', `cmga ${cmd}: --${from} ${file} is a folder; give a file with one entry a line`)
    const text = readFileSync(file === '-' ? 0 : file, 'utf8')
    return E.right(text.split(/\r?\n/).filter((l) => l.trim() !== ''))
  } catch (e) {
    return fail('io', `cmga ${cmd}: cannot read --${from} ${file}: ${readProblem(e)}`)
  }
}

/** The values of a list: the repeated flag's, then the file's lines; at least one, none empty. */
const collect = (cmd: string, values: Values, f: ListFlags, fromFile: (file: string) => Promise<E.Either<CmgaError, readonly string[]>>): Promise<E.Either<CmgaError, readonly string[]>> => {
  const direct = givenValues(values, f.flag)
  if (direct.some((s) => s === '')) return Promise.resolve(fail('usage', `cmga ${cmd}: --${f.flag} must not be empty`))
  const file = values[f.from]
  if (file === '') return Promise.resolve(fail('usage', `cmga ${cmd}: --${f.from} must not be empty`))
  if (typeof file !== 'string') {
    return Promise.resolve(direct.length > 0 ? E.right(direct) : fail('usage', `cmga ${cmd}: give --${f.flag} (once or more) or --${f.from} (see cmga ${cmd} --help)`))
  }
  return fromFile(file).then(
    E.chain((more) => (more.length === 0 && direct.length === 0 ? fail('input', `cmga ${cmd}: --${f.from} ${file} lists nothing`) : E.right([...direct, ...more])))
  )
}

/** Texts from `--FLAG` (repeated) and `--FROM FILE` (one a line). */
export const textList = (cmd: string, values: Values, f: ListFlags): Promise<E.Either<CmgaError, readonly string[]>> =>
  collect(cmd, values, f, (file) => Promise.resolve(linesOf(cmd, f.from, file)))

/** Image paths from `--FLAG` (repeated) and `--FROM FILE|FOLDER`. */
export const imageList = (cmd: string, values: Values, f: ListFlags): Promise<E.Either<CmgaError, readonly string[]>> =>
  collect(cmd, values, f, async (file) => {
    let folder = false
    try {
      folder = file !== '-' && statSync(file).isDirectory()
    } catch (e) {
      return fail('io', `cmga ${cmd}: cannot read --${f.from} ${file}: ${readProblem(e)}`)
    }
    if (!folder) return linesOf(cmd, f.from, file)
    return listImagePaths(file)
  })
