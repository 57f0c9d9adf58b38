/**
 * How stage 1 searches an index's images, one set of flags for `cmga retrieve` and
 * `cmga eval retrieval`: exact, or through the store's ANN index with its query-time
 * parameters.
 * @since 0.2.0
 */
import * as E from 'fp-ts/lib/Either.js'
import { pipe } from 'fp-ts/lib/function.js'
import type { CmgaError } from '../compiler/errors.js'
import { fail } from '../compiler/errors.js'
import type { Search } from '../apps/retrieval/store/store.js'
import { defaultAnnSearch } from '../apps/retrieval/store/store.js'
import type { Flags, Values } from './command.js'
import { integer } from './command.js'

const ann = defaultAnnSearch as Extract<Search, { kind: 'ann' }>

/** The help lines of the search flags. */
export const searchHelp = `  --exact              search the index's global features exactly even when it has
                       an ANN index (cmga index --ann); without one, search is exact
  --nprobes N          ANN: IVF partitions probed per query (default ${ann.nprobes})
  --refine-factor N    ANN: N x candidates are re-scored on the stored vectors before
                       the candidates are chosen (default ${ann.refineFactor})`

/** The search flags' definitions. */
export const searchFlagDefs: Flags = { exact: { type: 'boolean' }, nprobes: { type: 'string' }, 'refine-factor': { type: 'string' } }

/** The search the flags ask for; undefined when none is given (the index decides). */
export const searchFlags = (cmd: string, values: Values): E.Either<CmgaError, Search | undefined> => {
  const tuned = values.nprobes !== undefined || values['refine-factor'] !== undefined
  if (values.exact === true) return tuned ? fail('usage', `cmga ${cmd}: --exact takes no --nprobes or --refine-factor`) : E.right({ kind: 'exact' })
  if (!tuned) return E.right(undefined)
  return pipe(
    E.Do,
    E.bind('nprobes', () => integer(cmd, values, 'nprobes', ann.nprobes, 1)),
    E.bind('refineFactor', () => integer(cmd, values, 'refine-factor', ann.refineFactor, 1)),
    E.map(({ nprobes, refineFactor }): Search => ({ kind: 'ann', nprobes, refineFactor }))
  )
}
