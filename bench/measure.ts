/**
 * Timing helpers of the benchmark: onnxruntime sessions with a fixed thread count,
 * warm-up then the median of N runs, the profile of a run, and the machine.
 * @since 0.1.0
 */
import { readdirSync, readFileSync, rmSync } from 'node:fs'
import { cpus, loadavg, totalmem } from 'node:os'
import { join } from 'node:path'
import { tmpdir } from 'node:os'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import * as ort from 'onnxruntime-node'
import * as E from 'fp-ts/lib/Either.js'
import { emitModel } from '../compiler/emit/model.js'
import type { Graph } from '../compiler/ir/graph.js'
import type { HostTensor } from '../compiler/ir/tensor.js'
import { threadOptions, toOrt } from '../runtime/session.js'

/** Intra-op threads of every session (the setting). */
export const THREADS = 2

/** Emits a graph with its weights and opens a session (optionally profiling). */
export const open = async (g: Graph, weights: ReadonlyMap<string, HostTensor>, profile?: string): Promise<ort.InferenceSession> => {
  const m = emitModel(g, { weights })
  if (E.isLeft(m)) throw new Error(`emit ${g.name}: ${m.left.message}`)
  return ort.InferenceSession.create(m.right.model, sessionOptions(profile))
}

/** Opens an ONNX model given as bytes (the PyTorch peer) with the benchmark's options. */
export const openModel = (bytes: Uint8Array): Promise<ort.InferenceSession> => ort.InferenceSession.create(bytes, sessionOptions())

/** The benchmark's session options, profiling into files named from `profile` when given. */
export const sessionOptions = (profile?: string): ort.InferenceSession.SessionOptions => ({
  ...threadOptions(THREADS, true), // spinning, as the recorded figures were measured
  graphOptimizationLevel: 'all',
  ...(profile === undefined ? {} : { enableProfiling: true, profileFilePrefix: profile })
})

/** The middle value of a list (the upper middle for an even count). */
export const medianOf = (xs: readonly number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1]

/**
 * The profile a session wrote under `prefix` (call after `endProfiling`), deleted once
 * read: per run, in order, kernel microseconds summed by op type.
 */
export const readProfile = (prefix: string): Array<Map<string, number>> => {
  const dir = tmpdir()
  const file = readdirSync(dir).map((f) => join(dir, f)).find((f) => f.startsWith(prefix))
  if (file === undefined) return []
  type Event = { cat?: string; name?: string; ts?: number; dur?: number; args?: { op_name?: string } }
  const events = JSON.parse(readFileSync(file, 'utf8')) as Event[]
  rmSync(file, { force: true })
  const windows = events.filter((e) => e.cat === 'Session' && e.name === 'model_run').map((e) => [e.ts ?? 0, (e.ts ?? 0) + (e.dur ?? 0)] as const).sort((a, b) => a[0] - b[0])
  const perRun = windows.map(() => new Map<string, number>())
  for (const e of events) {
    if (e.cat !== 'Node' || e.name?.endsWith('_kernel_time') !== true) continue
    const r = windows.findIndex(([a, b]) => (e.ts ?? 0) >= a && (e.ts ?? 0) <= b)
    if (r < 0) continue
    const op = e.args?.op_name ?? '?'
    perRun[r].set(op, (perRun[r].get(op) ?? 0) + (e.dur ?? 0))
  }
  return perRun
}

/** Host tensors as ORT feeds. */
export const feedsOf = (t: Readonly<Record<string, HostTensor>>): Record<string, ort.Tensor> => Object.fromEntries(Object.entries(t).map(([k, v]) => [k, toOrt(v)]))


setFlagsFromString('--expose-gc')
const collect = runInNewContext('gc') as () => void

/** Collects garbage (emitted model bytes are hundreds of MB) so no major GC lands in a timing. */
export const settle = (): void => {
  collect()
  collect()
}

/** Median and fastest of a set of timings. */
export interface Timing {
  readonly median: number
  readonly min: number
}

const pause = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

/**
 * Times several functions round-robin (warm-up rounds, then `runs` rounds of one call
 * each), so that load from other processes falls on all of them alike; per function,
 * the median and the fastest milliseconds. Calls are 30 ms apart: each session has its
 * own thread pool whose threads spin for a while after a run, and a session started
 * right after another's would share the 2 cores with those spinning threads.
 */
export const interleaved = async (fs: ReadonlyArray<() => Promise<unknown>>, runs = 5, warmup = 2): Promise<Timing[]> => {
  settle()
  for (let i = 0; i < warmup; i++) for (const f of fs) await f()
  const ts: number[][] = fs.map(() => [])
  for (let i = 0; i < runs; i++) {
    for (const [k, f] of fs.entries()) {
      await pause(30)
      const t0 = performance.now()
      await f()
      ts[k].push(performance.now() - t0)
    }
  }
  return ts.map((t) => {
    const sorted = [...t].sort((a, b) => a - b)
    return { median: sorted[runs >> 1], min: sorted[0] }
  })
}

/**
 * Kernel ms per run by op type: `runs` profiled runs after one warm-up run, each run's
 * kernels summed by op, then the median over runs per op (one slow run does not move it).
 */
export const profileOps = (g: Graph, weights: ReadonlyMap<string, HostTensor>, feeds: Record<string, ort.Tensor>, runs = 7): Promise<Array<[string, number]>> =>
  profileWith((prefix) => open(g, weights, prefix), feeds, runs)

/** `profileOps` of an ONNX model given as bytes (the PyTorch peer). */
export const profileModel = (bytes: Uint8Array, feeds: Record<string, ort.Tensor>, runs = 7): Promise<Array<[string, number]>> =>
  profileWith((prefix) => ort.InferenceSession.create(bytes, sessionOptions(prefix)), feeds, runs)

const profileWith = async (create: (prefix: string) => Promise<ort.InferenceSession>, feeds: Record<string, ort.Tensor>, runs: number): Promise<Array<[string, number]>> => {
  const prefix = join(tmpdir(), `cmga-profile-${process.pid}-${Date.now()}`)
  const s = await create(prefix)
  for (let i = 0; i < runs + 1; i++) await s.run(feeds)
  s.endProfiling()
  await s.release()
  const measured = readProfile(prefix).slice(1) // the first run is the warm-up
  const ops = new Set(measured.flatMap((m) => [...m.keys()]))
  return [...ops].map((op): [string, number] => [op, medianOf(measured.map((m) => m.get(op) ?? 0)) / 1000]).sort((a, b) => b[1] - a[1])
}

/** The 1, 5 and 15 minute load averages, as the results files print them. */
export const loadAverages = (): string => loadavg().map((x) => x.toFixed(2)).join(' ')

/** The machine, for the results file. */
export const machine = (): Record<string, string> => {
  const c = cpus()
  const ortVersion = (() => {
    try {
      return String(JSON.parse(readFileSync(new URL('../node_modules/onnxruntime-node/package.json', import.meta.url), 'utf8')).version)
    } catch {
      return 'unknown'
    }
  })()
  return {
    cpu: `${c[0]?.model ?? 'unknown'} x ${c.length}`,
    memory: `${(totalmem() / 2 ** 30).toFixed(1)} GiB`,
    node: process.version,
    onnxruntime: `onnxruntime-node ${ortVersion} (CPU)`,
    threads: `${THREADS} intra-op, 1 inter-op`,
    load: loadAverages()
  }
}
