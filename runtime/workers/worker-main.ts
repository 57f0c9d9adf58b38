/**
 * One worker of the engine pool: loads the model directory it is given and runs stage
 * requests one at a time, answering each with an `Either` (errors as values, also
 * across threads).
 * @since 0.1.0
 */
import { parentPort, workerData } from 'node:worker_threads'
import * as E from 'fp-ts/lib/Either.js'
import { cmgaError } from '../../compiler/errors.js'
import { loadModel } from '../model/model.js'
import type { RunRequest, RunResponse, WorkerData } from './protocol.js'
import { CLOSE, CLOSED } from './protocol.js'

const data = workerData as WorkerData
const model = loadModel(data.dir, { threads: data.threads, device: data.device, spinning: data.spinning })
const port = parentPort
if (port === null) throw new Error('worker-main: not started as a worker thread')

port.on('message', (req: RunRequest | typeof CLOSE) => {
  if (req === CLOSE) {
    // onnxruntime's sessions hold native memory a terminated thread would leave behind
    void (E.isRight(model) ? model.right.close() : Promise.resolve()).finally(() => port.postMessage(CLOSED))
    return
  }
  const reply = (r: RunResponse): void => port.postMessage(r)
  if (E.isLeft(model)) return reply({ id: req.id, result: model })
  model.right
    .run(req.stage, req.feeds)()
    .then((result) => reply({ id: req.id, result }))
    .catch((e: unknown) => reply({ id: req.id, result: E.left(cmgaError('runtime', `worker: ${e instanceof Error ? e.message : String(e)}`)) }))
})
