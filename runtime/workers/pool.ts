/**
 * An `Engine` on worker threads. onnxruntime-node's `run` keeps the thread that calls
 * it busy, so stages run on `workers` threads, each with its own sessions, and the
 * event loop stays free (progress bars, image decoding, other callers).
 *
 * Request batching: requests waiting for a worker are merged into one run when their
 * stage is in `merge` and their feeds stack along dim 0 (same names, dtypes and shapes
 * but for dim 0); the outputs are split back by rows. Only stages whose rows are
 * computed independently of the other rows of the batch, bit for bit, may be merged,
 * so that every caller gets exactly what a serial run gives: the caller, who knows its
 * stages, names them (CMGA's `MERGEABLE_STAGES`, checked so in
 * `test/runtime-workers.test.ts`).
 * @since 0.1.0
 */
import { Worker } from 'node:worker_threads'
import * as E from 'fp-ts/lib/Either.js'
import * as TE from 'fp-ts/lib/TaskEither.js'
import type { Device } from '../device.js'
import { deviceProblem } from '../device.js'
import type { CmgaError } from '../../compiler/errors.js'
import { cmgaError } from '../../compiler/errors.js'
import type { HostTensor } from '../../compiler/ir/tensor.js'
import type { Engine, Tensors } from '../model/engine.js'
import { readManifest } from '../model/model.js'
import { concatRows, sameRowShape, sliceRows } from '../model/rows.js'
import type { RunRequest, RunResponse, WorkerData } from './protocol.js'
import { CLOSE, CLOSED } from './protocol.js'

// -------------------------------------------------------------------------------------
// model
// -------------------------------------------------------------------------------------

/** Options of `workerEngine`. */
export interface PoolOptions {
  /** Worker threads (at least 1). */
  readonly workers: number
  /** onnxruntime intra-op threads per worker (default 1). */
  readonly threads?: number
  /** Where each worker's onnxruntime runs (default 'cpu'). */
  readonly device?: Device
  /** Whether idle onnxruntime threads spin (default false; `threadOptions`). */
  readonly spinning?: boolean
  /** Stages whose waiting requests may be merged (default none). */
  readonly merge?: readonly string[]
  /** Most rows in one merged run (default 64). */
  readonly maxBatch?: number
}

/** Counts, for tests and diagnostics. */
export interface PoolStats {
  /** Requests received. */
  readonly requests: number
  /** Runs sent to workers (fewer than requests when some were merged). */
  readonly runs: number
}

/** A worker-pool engine. */
export interface PoolEngine extends Engine {
  readonly stats: () => PoolStats
}

type Result = E.Either<CmgaError, Record<string, HostTensor>>

interface Job {
  readonly stage: string
  readonly feeds: Tensors
  /** Rows along dim 0 when every feed has the same dim 0, else -1 (never merged). */
  readonly rows: number
  readonly done: (r: Result) => void
}

interface Slot {
  readonly worker: Worker
  busy: { readonly id: number; readonly jobs: readonly Job[] } | null
}

// -------------------------------------------------------------------------------------
// batching
// -------------------------------------------------------------------------------------

const rowsOf = (feeds: Tensors): number => {
  const ds = Object.values(feeds).map((t) => (t.shape.length > 0 ? t.shape[0] : -1))
  return ds.length > 0 && ds.every((d) => d === ds[0] && d > 0) ? ds[0] : -1
}

const stacks = (a: Job, b: Job): boolean => {
  const ka = Object.keys(a.feeds).sort()
  const kb = Object.keys(b.feeds).sort()
  return a.stage === b.stage && b.rows > 0 && ka.length === kb.length && ka.every((k, i) => k === kb[i] && sameRowShape(a.feeds[k], b.feeds[k]))
}

/** Takes the first waiting job and every later one that stacks on it, within `maxBatch` rows. */
const takeBatch = (queue: Job[], merge: ReadonlySet<string>, maxBatch: number): Job[] => {
  const first = queue.shift() as Job
  const batch = [first]
  if (!merge.has(first.stage) || first.rows < 0) return batch
  let rows = first.rows
  for (let i = 0; i < queue.length && rows < maxBatch; ) {
    const j = queue[i]
    if (stacks(first, j) && rows + j.rows <= maxBatch) {
      batch.push(j)
      rows += j.rows
      queue.splice(i, 1)
    } else i++
  }
  return batch
}

const mergedFeeds = (jobs: readonly Job[]): Tensors =>
  jobs.length === 1 ? jobs[0].feeds : Object.fromEntries(Object.keys(jobs[0].feeds).map((k) => [k, concatRows(jobs.map((j) => j.feeds[k]))]))

/** Splits a merged result back into one result per job. */
const splitResult = (jobs: readonly Job[], r: Result): Result[] => {
  if (jobs.length === 1 || E.isLeft(r)) return jobs.map(() => r)
  let from = 0
  return jobs.map((j) => {
    const to = from + j.rows
    const part = Object.fromEntries(Object.entries(r.right).map(([k, t]) => [k, sliceRows(t, from, to)]))
    from = to
    return E.right(part)
  })
}

// -------------------------------------------------------------------------------------
// pool
// -------------------------------------------------------------------------------------

/** Starts `opts.workers` worker threads on a compiled model directory. */
export const workerEngine = (dir: string, opts: PoolOptions): E.Either<CmgaError, PoolEngine> => {
  if (!Number.isInteger(opts.workers) || opts.workers < 1) return E.left(cmgaError('usage', `workers must be a positive integer, got ${opts.workers}`))
  // the workers' loadModel checks it too, but only at their first run: refuse here, before any starts
  const problem = deviceProblem(opts.device ?? 'cpu')
  if (problem !== null) return E.left(cmgaError('usage', `--device ${opts.device ?? 'cpu'}: ${problem}`))
  const manifest = readManifest(dir)
  if (E.isLeft(manifest)) return manifest
  const merge = new Set(opts.merge ?? [])
  const maxBatch = opts.maxBatch ?? 64
  const queue: Job[] = []
  let nextId = 0
  let requests = 0
  let runs = 0
  let broken: CmgaError | null = null

  const failAll = (e: CmgaError): void => {
    broken ??= e
    for (const s of slots) {
      if (s.busy !== null) for (const j of s.busy.jobs) j.done(E.left(e))
      s.busy = null
    }
    for (const j of queue.splice(0)) j.done(E.left(e))
  }

  const pump = (): void => {
    for (const s of slots) {
      if (s.busy !== null || queue.length === 0) continue
      const jobs = takeBatch(queue, merge, maxBatch)
      const id = nextId++
      s.busy = { id, jobs }
      runs++
      s.worker.ref()
      const req: RunRequest = { id, stage: jobs[0].stage, feeds: mergedFeeds(jobs) }
      s.worker.postMessage(req)
    }
  }

  const start = (): Slot => {
    const data: WorkerData = { dir, threads: opts.threads ?? 1, device: opts.device ?? 'cpu', spinning: opts.spinning === true }
    const worker = new Worker(new URL('./worker.mjs', import.meta.url), { workerData: data })
    const slot: Slot = { worker, busy: null }
    worker.on('message', (msg: RunResponse) => {
      const busy = slot.busy
      if (busy === null || busy.id !== msg.id) return
      slot.busy = null
      worker.unref()
      splitResult(busy.jobs, msg.result).forEach((r, k) => busy.jobs[k].done(r))
      pump()
    })
    worker.on('error', (e) => failAll(cmgaError('runtime', `worker thread failed: ${e.message}`)))
    worker.on('exit', (code) => {
      if (broken === null) failAll(cmgaError('runtime', `worker thread exited (code ${code})`))
    })
    worker.unref()
    return slot
  }
  const slots: Slot[] = Array.from({ length: opts.workers }, start)

  const run = (stage: string, feeds: Tensors): TE.TaskEither<CmgaError, Record<string, HostTensor>> => () =>
    new Promise<Result>((done) => {
      requests++
      if (broken !== null) return done(E.left(broken))
      if (manifest.right.stages[stage] === undefined) return done(E.left(cmgaError('input', `model ${dir} has no stage "${stage}"`)))
      queue.push({ stage, feeds, rows: rowsOf(feeds), done })
      pump()
    })

  return E.right({
    dir,
    manifest: manifest.right,
    has: (stage) => manifest.right.stages[stage] !== undefined,
    run,
    stats: () => ({ requests, runs }),
    // Close refuses new runs and fails the queued ones, then waits for the runs the
    // workers are in (terminating a worker inside onnxruntime's run aborts the process:
    // "terminate called after throwing an instance of 'Napi::Error'"), then ends them.
    close: async () => {
      const closing = cmgaError('runtime', 'the engine pool was closed')
      broken ??= closing
      for (const j of queue.splice(0)) j.done(E.left(closing))
      const deadline = Date.now() + 120_000
      while (slots.some((s) => s.busy !== null) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5))
      failAll(closing)
      // each worker releases its sessions before it is ended (else their native memory
      // stays with the process: about 1 MB a cycle measured with a 95 MB model)
      await Promise.all(
        slots.map(
          (s) =>
            new Promise<void>((done) => {
              const timer = setTimeout(done, 10_000)
              s.worker.on('message', (m: unknown) => {
                if (m === CLOSED) (clearTimeout(timer), done())
              })
              s.worker.postMessage(CLOSE)
            })
        )
      )
      await Promise.all(slots.map((s) => s.worker.terminate()))
    }
  })
}
