/**
 * The value of a `Right`, or a thrown error naming the `CmgaError` of a `Left`.
 * @since 0.1.0
 */
import * as E from 'fp-ts/lib/Either.js'
import type { CmgaError } from '../../compiler/errors.js'

/** `r`'s value; throws `kind: message` when it is an error. */
export const right = <A>(r: E.Either<CmgaError, A>): A => {
  if (E.isLeft(r)) throw new Error(`${r.left.kind}: ${r.left.message}`)
  return r.right
}
