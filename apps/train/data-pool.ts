/**
 * The training data pipeline on a worker thread. onnxruntime-node's `run` keeps the
 * calling thread busy for the whole step, so batches loaded on the main thread would
 * wait for it; on a worker, the next batch is decoded, resized, flipped, tokenized and
 * masked while the current step runs. The worker runs the same `makePipeline`, so its
 * batches are exactly the main thread's.
 * @since 0.1.0
 */
import { Worker } from 'node:worker_threads'
import * as E from 'fp-ts/lib/Either.js'
import type { CmgaError } from '../../compiler/errors.js'
import { cmgaError } from '../../compiler/errors.js'
import type { TokenizerOptions, TokenizerSource } from '../../runtime/text/index.js'
import type { Batch, Example, Pipeline, PipelineOptions } from './data.js'

/** What the worker builds its pipeline from (structured-clonable). */
export interface DataSpec {
  readonly examples: readonly Example[]
  readonly tokenizer: TokenizerSource
  readonly tokenizerOptions: TokenizerOptions
  /** The masking vocabulary (pretraining), its specials as a list. */
  readonly vocab?: { readonly special: readonly number[]; readonly maskId: number; readonly size: number }
  readonly options: PipelineOptions
}

/** Ask for one step's batch. */
export interface BatchRequest {
  readonly id: number
  readonly step: number
}

/** The batch of a `BatchRequest`. */
export interface BatchResponse {
  readonly id: number
  readonly result: E.Either<CmgaError, Batch>
}

/** A pipeline whose worker must be closed when training ends. */
export interface WorkerPipeline extends Pipeline {
  readonly close: () => Promise<void>
}

/** Starts the pipeline's worker. */
export const workerPipeline = (spec: DataSpec): WorkerPipeline => {
  const worker = new Worker(new URL('./data-worker.mjs', import.meta.url), { workerData: spec })
  const waiting = new Map<number, (r: E.Either<CmgaError, Batch>) => void>()
  let broken: CmgaError | null = null
  let next = 0
  const failAll = (e: CmgaError): void => {
    broken ??= e
    for (const done of waiting.values()) done(E.left(e))
    waiting.clear()
  }
  worker.on('message', (msg: BatchResponse) => {
    waiting.get(msg.id)?.(msg.result)
    waiting.delete(msg.id)
    if (waiting.size === 0) worker.unref()
  })
  worker.on('error', (e) => failAll(cmgaError('runtime', `data worker: ${e.message}`)))
  worker.on('exit', (code) => failAll(cmgaError('runtime', `data worker exited (code ${code})`)))
  worker.unref()
  return {
    size: spec.examples.length,
    batchAt: (step) =>
      broken !== null
        ? Promise.resolve(E.left(broken))
        : new Promise((resolve) => {
            const id = next++
            waiting.set(id, resolve)
            worker.ref()
            worker.postMessage({ id, step } satisfies BatchRequest)
          }),
    close: async () => {
      worker.removeAllListeners('exit')
      await worker.terminate()
    }
  }
}
