/**
 * What every `cmga` command is: a name, help text, its flags, and a run function that
 * returns an error as a value. `main` turns errors into one message and an exit code.
 * @since 0.1.0
 */
import { existsSync, statSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import type { ParseArgsConfig } from 'node:util'
import * as E from 'fp-ts/lib/Either.js'
import type { CmgaError } from '../compiler/errors.js'
import { fail } from '../compiler/errors.js'

/** Flag definitions, as node:util's parseArgs takes them. */
export type Flags = NonNullable<ParseArgsConfig['options']>

/** Parsed flag values. */
export type Values = Readonly<Record<string, string | boolean | readonly string[] | undefined>>

/** @since 0.1.0 */
export interface Command {
  readonly name: string
  /** One line for `cmga --help`. */
  readonly summary: string
  /** The full `cmga NAME --help` text. */
  readonly help: string
  readonly flags: Flags
  readonly run: (values: Values, log: (line: string) => void) => Promise<E.Either<CmgaError, void>>
}

/** Parses argv for a command; unknown flags, missing values and stray arguments are usage errors. */
export const parseFlags = (cmd: Command, argv: readonly string[]): E.Either<CmgaError, Values> => {
  try {
    const { values, positionals } = parseArgs({ args: [...argv], options: { ...cmd.flags, help: { type: 'boolean', short: 'h' } }, strict: true, allowPositionals: true })
    if (positionals.length > 0) return fail('usage', `cmga ${cmd.name}: unexpected argument "${positionals[0]}" (see cmga ${cmd.name} --help)`)
    return E.right(values as Values)
  } catch (e) {
    const message = (e as Error).message
    const ambiguous = /^Option '(--[\w-]+)[^']*' argument is ambiguous/.exec(message)
    const what = ambiguous !== null ? `${ambiguous[1]} takes a value; one that starts with a dash is written ${ambiguous[1]}=VALUE` : message.split('\n')[0].replace(/\. To specify.*$/s, '')
    return fail('usage', `cmga ${cmd.name}: ${what} (see cmga ${cmd.name} --help)`)
  }
}

/** A required string flag (given empty: `--flag must not be empty`). */
export const required = (cmd: string, values: Values, flag: string): E.Either<CmgaError, string> => {
  const v = values[flag]
  if (v === '') return fail('usage', `cmga ${cmd}: --${flag} must not be empty`)
  return typeof v === 'string' ? E.right(v) : fail('usage', `cmga ${cmd}: --${flag} is required (see cmga ${cmd} --help)`)
}

/** The first of `flags` given (a flag and its deprecated aliases): its value, under the first name. */
export const aliased = (values: Values, flag: string, ...aliases: readonly string[]): Values => {
  const given = [flag, ...aliases].find((f) => values[f] !== undefined)
  return given === undefined || given === flag ? values : { ...values, [flag]: values[given] }
}

/** An optional integer flag within bounds. */
export const integer = (cmd: string, values: Values, flag: string, fallback: number, min = 0, max = Number.MAX_SAFE_INTEGER): E.Either<CmgaError, number> => {
  const v = values[flag]
  if (v === undefined) return E.right(fallback)
  const n = Number(v)
  return typeof v === 'string' && /^-?\d+$/.test(v) && n >= min && n <= max
    ? E.right(n)
    : fail('usage', `cmga ${cmd}: --${flag} must be an integer in [${min}, ${max}], got "${String(v)}"`)
}

/** An optional flag that takes one of `choices`. */
export const oneOf = <A extends string>(cmd: string, values: Values, flag: string, choices: readonly A[], fallback: A): E.Either<CmgaError, A> => {
  const v = values[flag]
  if (v === undefined) return E.right(fallback)
  return typeof v === 'string' && (choices as readonly string[]).includes(v) ? E.right(v as A) : fail('usage', `cmga ${cmd}: --${flag} must be one of ${choices.join(', ')}, got "${String(v)}"`)
}

/** The values of a flag given any number of times (`multiple: true`), none when absent. */
export const givenValues = (values: Values, flag: string): readonly string[] => {
  const v = values[flag]
  return typeof v === 'string' ? [v] : Array.isArray(v) ? (v as readonly string[]) : []
}

/** A flag given one or more times (`multiple: true`): its values, at least one, none empty. */
export const repeated = (cmd: string, values: Values, flag: string): E.Either<CmgaError, readonly string[]> => {
  const list = givenValues(values, flag)
  if (list.some((s) => s === '')) return fail('usage', `cmga ${cmd}: --${flag} must not be empty`)
  return list.length > 0 ? E.right(list) : fail('usage', `cmga ${cmd}: --${flag} is required, once or more (see cmga ${cmd} --help)`)
}

// -------------------------------------------------------------------------------------
// outputs: one policy for every command
// -------------------------------------------------------------------------------------

/** What an output flag names. */
export type OutputKind = 'file' | 'directory'

/**
 * The output policy of every command: an existing output is refused unless `--force`
 * (`--out PATH already exists (use --force to replace it)`, a usage error, exit 2); a
 * directory where a file is expected, or a file where a directory is, is refused even
 * with it; a file's directory must exist. The command then writes atomically.
 */
export const checkOutput = (flag: string, path: string, kind: OutputKind, force: boolean): E.Either<CmgaError, string> => {
  const st = existsSync(path) ? statSync(path) : undefined
  if (st !== undefined && kind === 'file' && st.isDirectory()) return fail('usage', `--${flag} ${path} is a directory; give a file to write`)
  if (st !== undefined && kind === 'directory' && !st.isDirectory()) return fail('usage', `--${flag} ${path} is a file; give a directory to write`)
  if (st !== undefined && !force) return fail('usage', `--${flag} ${path} already exists (use --force to replace it)`)
  const parent = dirname(resolve(path))
  if (kind === 'file' && !(existsSync(parent) && statSync(parent).isDirectory())) return fail('io', `cannot write --${flag} ${path}: directory ${parent} does not exist`)
  return E.right(path)
}

/** An optional output flag, checked by `checkOutput` (with the command's `--force`); undefined when not given. */
export const outputFlag = (cmd: string, values: Values, flag: string, kind: OutputKind): E.Either<CmgaError, string | undefined> =>
  values[flag] === undefined ? E.right(undefined) : E.chain((p: string) => checkOutput(flag, p, kind, values.force === true))(required(cmd, values, flag))

/** A required output flag, checked by `checkOutput`. */
export const requiredOutput = (cmd: string, values: Values, flag: string, kind: OutputKind): E.Either<CmgaError, string> =>
  E.chain((p: string) => checkOutput(flag, p, kind, values.force === true))(required(cmd, values, flag))
