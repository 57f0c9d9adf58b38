/**
 * Runs compiled train-step graphs on onnxruntime with the training state held in
 * onnxruntime tensors between steps. Every parameter, moment and the step counter has
 * two pre-allocated tensors: a step feeds one set and has onnxruntime write the
 * `next.*` outputs straight into the other (fetches given as tensors), then the sets
 * swap. What a step copies (onnxruntime-node 1.30, measured in `bench/train.ts`):
 *
 * - feeds (batch, parameters, moments, lr): none; the binding wraps the JS buffers;
 * - `next.*` outputs: onnxruntime writes into our pre-allocated buffers (no arena
 *   allocation), but the binding still copies every fetched output into a fresh
 *   ArrayBuffer for the object `run` returns (3 x 4 bytes per trained parameter per
 *   step), which we drop. The binding has no way to skip that copy (no IOBinding).
 *
 * Several graphs (the keep-rate levels) share one state.
 * @since 0.1.0
 */
import * as ort from 'onnxruntime-node'
import * as E from 'fp-ts/lib/Either.js'
import type { CmgaError } from '../../compiler/errors.js'
import { cmgaError, fail } from '../../compiler/errors.js'
import type { HostTensor } from '../../compiler/ir/tensor.js'
import { trainNames } from '../../compiler/train/adamw.js'
import { threadOptions, toOrt } from '../../runtime/session.js'
import type { TrainState } from './checkpoint.js'
import { momentOf } from './checkpoint.js'

// -------------------------------------------------------------------------------------
// model
// -------------------------------------------------------------------------------------

/** A train-step session and the parameters its graph updates. */
export interface StepSession {
  readonly session: ort.InferenceSession
  readonly params: ReadonlyArray<{ readonly name: string; readonly shape: readonly number[] }>
}

/** What one step reports. */
export interface StepResult {
  /** Every float32 [] output of the graph besides the state: the losses and `grad_norm`. */
  readonly scalars: Readonly<Record<string, number>>
}

/** The state's onnxruntime tensors and a step function. */
export interface Runner {
  /** Takes one step of `s` on a batch at learning rate `lr`. */
  readonly step: (s: StepSession, batch: Readonly<Record<string, HostTensor>>, lr: number) => Promise<E.Either<CmgaError, StepResult>>
  /** The current state (views of the live buffers: copy before the next step if kept). */
  readonly state: () => TrainState
}

/** Two tensors of one state entry: `cur` is fed, `next` receives the update. */
interface Pair {
  cur: ort.Tensor
  next: ort.Tensor
}

const message = (e: unknown): string => (e instanceof Error ? e.message : String(e))

const pairOf = (t: HostTensor<'float32'>): Pair => ({
  cur: new ort.Tensor('float32', Float32Array.from(t.data), [...t.shape]),
  next: new ort.Tensor('float32', new Float32Array(t.data.length), [...t.shape])
})

const host = (t: ort.Tensor): HostTensor<'float32'> => ({ dtype: 'float32', shape: t.dims.map(Number), data: t.data as Float32Array })

// -------------------------------------------------------------------------------------
// the runner
// -------------------------------------------------------------------------------------

/** Opens a train-step session from ONNX bytes. */
export const openStepSession = async (model: Uint8Array, params: StepSession['params'], threads: number): Promise<E.Either<CmgaError, StepSession>> => {
  try {
    const session = await ort.InferenceSession.create(model, { ...threadOptions(threads, true), graphOptimizationLevel: 'all', executionMode: 'sequential' })
    return E.right({ session, params })
  } catch (e) {
    return fail('runtime', `cannot open the train-step graph: ${message(e)}`)
  }
}

/** A runner starting from `state` (copied into its own buffers). */
export const makeRunner = (initial: TrainState): Runner => {
  const params = new Map<string, Pair>()
  const m = new Map<string, Pair>()
  const v = new Map<string, Pair>()
  for (const [name, t] of initial.params) {
    params.set(name, pairOf(t))
    m.set(name, pairOf(momentOf(initial.m, name, t.shape)))
    v.set(name, pairOf(momentOf(initial.v, name, t.shape)))
  }
  const stepPair: Pair = {
    cur: new ort.Tensor('int64', BigInt64Array.from([BigInt(initial.step)]), []),
    next: new ort.Tensor('int64', new BigInt64Array(1), [])
  }
  const swap = (p: Pair): void => void ([p.cur, p.next] = [p.next, p.cur])

  const step = async (s: StepSession, batch: Readonly<Record<string, HostTensor>>, lr: number): Promise<E.Either<CmgaError, StepResult>> => {
    const feeds: Record<string, ort.Tensor> = { [trainNames.lr]: new ort.Tensor('float32', Float32Array.from([lr]), []), [trainNames.step]: stepPair.cur }
    for (const [k, t] of Object.entries(batch)) feeds[k] = toOrt(t)
    const fetches: Record<string, ort.Tensor | null> = { [trainNames.next(trainNames.step)]: stepPair.next }
    const updated: Pair[] = [stepPair]
    for (const p of s.params) {
      const [pp, mp, vp] = [params.get(p.name), m.get(p.name), v.get(p.name)]
      if (pp === undefined || mp === undefined || vp === undefined) return fail('input', `the training state has no parameter "${p.name}"`)
      feeds[p.name] = pp.cur
      feeds[trainNames.m(p.name)] = mp.cur
      feeds[trainNames.v(p.name)] = vp.cur
      fetches[trainNames.next(p.name)] = pp.next
      fetches[trainNames.next(trainNames.m(p.name))] = mp.next
      fetches[trainNames.next(trainNames.v(p.name))] = vp.next
      updated.push(pp, mp, vp)
    }
    const scalarNames = s.session.outputNames.filter((n) => !(n in fetches) && !n.startsWith('itm_neg_'))
    for (const n of scalarNames) fetches[n] = null
    let out: ort.InferenceSession.ReturnType
    try {
      out = await s.session.run(feeds, fetches)
    } catch (e) {
      return E.left(cmgaError('runtime', `train step: ${message(e)}`))
    }
    updated.forEach(swap)
    return E.right({ scalars: Object.fromEntries(scalarNames.map((n) => [n, Number((out[n] as ort.Tensor).data[0])])) })
  }

  const state = (): TrainState => ({
    step: Number((stepPair.cur.data as BigInt64Array)[0]),
    params: new Map([...params].map(([k, p]) => [k, host(p.cur)])),
    m: new Map([...m].map(([k, p]) => [k, host(p.cur)])),
    v: new Map([...v].map(([k, p]) => [k, host(p.cur)]))
  })
  return { step, state }
}
