/**
 * Where a compiled model's stages run. An `Engine` runs one stage on feeds; the
 * in-process one runs onnxruntime on the calling thread, the worker pool
 * (`runtime/workers`) on worker threads with request batching. The runtime API is
 * written against this interface only, so both give the same results.
 * @since 0.1.0
 */
import * as E from 'fp-ts/lib/Either.js'
import type * as TE from 'fp-ts/lib/TaskEither.js'
import type { CmgaError } from '../../compiler/errors.js'
import type { HostTensor } from '../../compiler/ir/tensor.js'
import type { Manifest } from './manifest.js'
import type { SessionOptions } from '../session.js'
import { loadModel } from './model.js'

/** Named tensors in or out of a stage. */
export type Tensors = Readonly<Record<string, HostTensor>>

/** @since 0.1.0 */
export interface Engine {
  /** The model directory. */
  readonly dir: string
  readonly manifest: Manifest
  /** Whether the model has a stage. */
  readonly has: (stage: string) => boolean
  /** Runs one stage (feeds it does not declare are ignored). */
  readonly run: (stage: string, feeds: Tensors) => TE.TaskEither<CmgaError, Record<string, HostTensor>>
  /** Frees sessions and threads. */
  readonly close: () => Promise<void>
}

/** An engine running every stage on the calling thread. */
export const localEngine = (dir: string, opts: SessionOptions = {}): E.Either<CmgaError, Engine> =>
  E.map((m: ReturnType<typeof loadModel> extends E.Either<unknown, infer A> ? A : never): Engine => ({
    dir,
    manifest: m.manifest,
    has: m.has,
    run: m.run,
    close: m.close
  }))(loadModel(dir, opts))
