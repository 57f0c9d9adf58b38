/**
 * What every `cmga eval` command shares: the model opened from the runtime flags, a
 * progress bar over the evaluation's phases, Ctrl-C saying that nothing was kept, and
 * the result written only at the end.
 * @since 0.1.0
 */
import * as E from 'fp-ts/lib/Either.js'
import * as TE from 'fp-ts/lib/TaskEither.js'
import { pipe } from 'fp-ts/lib/function.js'
import type { CmgaError } from '../compiler/errors.js'
import type { Runtime } from '../apps/cmga/runtime.js'
import type { Values } from './command.js'
import { whileInterruptible } from './interrupt.js'
import { progressReporter } from './progress.js'
import { runtimeFrom, withRuntime } from './runtime-flags.js'

/** Reports a phase's progress (`done` of `total`). */
export type OnProgress = (phase: string, done: number, total: number) => void

const kept = (): string => 'an evaluation keeps nothing until it ends (--out is written only then); run the same command again'

/** Opens the model, runs `evaluate` under a progress bar and hands its result to `write`. */
export const runEvaluation = async <A>(
  cmd: string,
  values: Values,
  log: (line: string) => void,
  evaluate: (runtime: Runtime, onProgress: OnProgress) => TE.TaskEither<CmgaError, A>,
  write: (runtime: Runtime, result: A) => E.Either<CmgaError, void>
): Promise<E.Either<CmgaError, void>> => {
  const rt = runtimeFrom(cmd, values, log)
  if (E.isLeft(rt)) return rt
  const bar = progressReporter(cmd, log)
  return whileInterruptible(kept, () =>
    withRuntime(rt.right, (runtime) =>
      pipe(
        evaluate(runtime, (phase, done, total) => bar.update(phase, done, total)),
        TE.map((r) => (bar.stop(), r)),
        TE.mapLeft((e) => (bar.stop(), e)),
        TE.chainEitherK((r) => write(runtime, r))
      )()
    )
  )
}
