/**
 * Messages between the engine pool and its workers.
 * @since 0.1.0
 */
import type * as E from 'fp-ts/lib/Either.js'
import type { CmgaError } from '../../compiler/errors.js'
import type { HostTensor } from '../../compiler/ir/tensor.js'
import type { Device } from '../device.js'

/** What a worker is started with. */
export interface WorkerData {
  readonly dir: string
  readonly threads: number
  readonly device: Device
  /** Whether idle onnxruntime threads spin (`threadOptions`). */
  readonly spinning: boolean
}

/** Run one stage. */
export interface RunRequest {
  readonly id: number
  readonly stage: string
  readonly feeds: Readonly<Record<string, HostTensor>>
}

/** Release the model's sessions (the worker answers `CLOSED`, then is terminated). */
export const CLOSE = 'close'

/** What a worker answers to `CLOSE` once its sessions are released. */
export const CLOSED = 'closed'

/** The answer to a `RunRequest`. */
export interface RunResponse {
  readonly id: number
  readonly result: E.Either<CmgaError, Record<string, HostTensor>>
}
