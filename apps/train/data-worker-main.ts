/**
 * The data pipeline on its own thread: builds the tokenizer and the pipeline from the
 * spec it is started with, then answers each `{ id, step }` with that step's batch
 * (an `Either`, its buffers transferred, not copied).
 * @since 0.1.0
 */
import { parentPort, workerData } from 'node:worker_threads'
import * as E from 'fp-ts/lib/Either.js'
import { cmgaError } from '../../compiler/errors.js'
import { makeTokenizer } from '../../runtime/text/index.js'
import type { BatchRequest, BatchResponse, DataSpec } from './data-pool.js'
import { makePipeline } from './data.js'

const spec = workerData as DataSpec
const port = parentPort
if (port === null) throw new Error('data-worker-main: not started as a worker thread')
const tokenizer = makeTokenizer(spec.tokenizer, spec.tokenizerOptions)
const vocab = spec.vocab === undefined ? undefined : { ...spec.vocab, special: new Set(spec.vocab.special) }
const pipeline = E.map((tk: Parameters<typeof makePipeline>[1]) => makePipeline(spec.examples, tk, vocab, spec.options))(tokenizer)

port.on('message', (req: BatchRequest) => {
  const reply = (r: BatchResponse): void => {
    const buffers = E.isRight(r.result) ? Object.values(r.result.right).map((t) => t.data.buffer as ArrayBuffer) : []
    port.postMessage(r, buffers)
  }
  if (E.isLeft(pipeline)) return reply({ id: req.id, result: pipeline })
  pipeline.right
    .batchAt(req.step)
    .then((result) => reply({ id: req.id, result }))
    .catch((e: unknown) => reply({ id: req.id, result: E.left(cmgaError('runtime', `data worker: ${e instanceof Error ? e.message : String(e)}`)) }))
})
