/**
 * Errors as values. Every fallible step of the compiler and runtime returns
 * `Either<CmgaError, A>`; only the CLI turns a `Left` into a message and an exit code.
 * @since 0.1.0
 */
import * as E from 'fp-ts/lib/Either.js'

// -------------------------------------------------------------------------------------
// model
// -------------------------------------------------------------------------------------

/** What went wrong, by area. */
export type ErrorKind =
  | 'config' // a config file violates the spec
  | 'weights' // a checkpoint is unreadable, incomplete or mis-shaped
  | 'format' // a file is malformed (safetensors, JSON, ONNX, image)
  | 'input' // feeds of the wrong shape, dtype or range
  | 'shape' // shape or dtype inference failed while building a graph
  | 'verify' // the IR verifier rejected a graph
  | 'runtime' // onnxruntime failed
  | 'io' // the file system failed
  | 'usage' // bad command-line use

/** @since 0.1.0 */
export interface CmgaError {
  readonly kind: ErrorKind
  readonly message: string
}

// -------------------------------------------------------------------------------------
// constructors
// -------------------------------------------------------------------------------------

/** @since 0.1.0 */
export const cmgaError = (kind: ErrorKind, message: string): CmgaError => ({ kind, message })

/** Why a file could not be read, in words (`no such file`, `is a directory, not a file`, ...), not a bare errno. */
export const readProblem = (e: unknown): string => {
  const code = (e as NodeJS.ErrnoException).code
  if (code === 'ENOENT') return 'no such file'
  if (code === 'EISDIR') return 'is a directory, not a file'
  if (code === 'EACCES' || code === 'EPERM') return 'permission denied'
  return `cannot read (${code ?? (e instanceof Error ? e.message : String(e))})`
}

/** A `Left` with the given kind and message. */
export const fail = <A = never>(kind: ErrorKind, message: string): E.Either<CmgaError, A> =>
  E.left(cmgaError(kind, message))

/**
 * Thrown (never returned) by graph-building code, where model code is written as plain
 * functions; `tryBuild` turns it back into a value at the boundary.
 */
export class BuildError extends Error {
  constructor(readonly error: CmgaError) {
    super(error.message)
  }
}

/** Throws a `BuildError`: for use inside graph-building code only. */
export const raise = (kind: ErrorKind, message: string): never => {
  throw new BuildError(cmgaError(kind, message))
}

/** Runs graph-building code, turning a thrown `BuildError` into a `Left`. */
export const tryBuild = <A>(f: () => A): E.Either<CmgaError, A> => {
  try {
    return E.right(f())
  } catch (e) {
    if (e instanceof BuildError) return E.left(e.error)
    throw e
  }
}

/** One line: `kind error: message`. */
export const formatError = (e: CmgaError): string => `${e.kind} error: ${e.message}`
