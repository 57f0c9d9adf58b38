/**
 * A thin typed wrapper over onnxruntime-node: sessions from model bytes or a path, runs
 * on host tensors, feeds checked against the model's inputs, and ORT exceptions turned
 * into `CmgaError`s of kind 'runtime'.
 * @since 0.1.0
 */
import * as ort from 'onnxruntime-node'
import * as E from 'fp-ts/lib/Either.js'
import * as TE from 'fp-ts/lib/TaskEither.js'
import { pipe } from 'fp-ts/lib/function.js'
import type { CmgaError } from '../compiler/errors.js'
import { cmgaError, fail } from '../compiler/errors.js'
import type { DType } from '../compiler/ir/dtype.js'
import type { HostTensor } from '../compiler/ir/tensor.js'
import { sizeOf } from '../compiler/ir/tensor.js'
import type { Device } from './device.js'
import { deviceProblem, providersOf } from './device.js'

// -------------------------------------------------------------------------------------
// model
// -------------------------------------------------------------------------------------

/** Session options. */
export interface SessionOptions {
  /** Intra-op threads (default 2). */
  readonly threads?: number
  /** Graph optimization level (default 'all'). */
  readonly optimization?: 'disabled' | 'basic' | 'extended' | 'all'
  /** Where to run (default 'cpu'); a GPU device this install cannot use is a Left of kind 'usage'. */
  readonly device?: Device
  /** Whether idle intra-op threads spin (default false: see `threadOptions`). */
  readonly spinning?: boolean
}

/**
 * onnxruntime's CPU threading as this project sets it: `threads` intra-op threads, one
 * inter-op, and (unless `spinning`) threads that sleep instead of spinning while they
 * wait for work. onnxruntime spins by default, which costs when cores are few and the
 * sessions many: one session's spinning threads take the cores from the next session's
 * run (a re-rank alternates five stages) and from Node's own thread. Measured on a
 * 2-core AMD EPYC: `cmga eval retrieval` of the shipped model over 500 pairs (stage 1
 * and a top-16 re-rank) 18.2 s spinning, 12.8 s not (the same recall).
 */
export const threadOptions = (threads: number, spinning = false): ort.InferenceSession.SessionOptions => ({
  intraOpNumThreads: threads,
  interOpNumThreads: 1,
  ...(spinning ? {} : { extra: { session: { intra_op: { allow_spinning: '0' } } } })
})

/** The declared type of a model input or output (dims as ORT reports them). */
export interface ValueType {
  readonly name: string
  readonly dtype: string
  readonly shape: readonly (number | string)[]
}

/** An open inference session. */
export interface Session {
  readonly inputNames: readonly string[]
  readonly outputNames: readonly string[]
  /** Declared input types, in input order. */
  readonly inputs: readonly ValueType[]
  /**
   * Runs the model on `feeds` (every input, by name), returning the `fetches` (default:
   * every output). A missing, unknown or mis-typed feed is a Left of kind 'input'.
   */
  run(feeds: Readonly<Record<string, HostTensor>>, fetches?: readonly string[]): TE.TaskEither<CmgaError, Record<string, HostTensor>>
  /** Frees the native session. */
  release(): TE.TaskEither<CmgaError, void>
}

const dtypes: ReadonlySet<string> = new Set<DType>(['float32', 'float64', 'int64', 'bool'])

const message = (e: unknown): string => (e instanceof Error ? e.message : String(e))

// -------------------------------------------------------------------------------------
// conversions
// -------------------------------------------------------------------------------------

/** A host tensor as an ORT tensor (sharing its data). */
export const toOrt = (t: HostTensor): ort.Tensor => new ort.Tensor(t.dtype, t.data, [...t.shape])

/** An ORT tensor as a host tensor, or why it cannot be one. */
export const fromOrt = (name: string, v: ort.OnnxValue): E.Either<CmgaError, HostTensor> => {
  if (!(v instanceof ort.Tensor) || !dtypes.has(v.type)) return fail('runtime', `output "${name}" has unsupported type ${(v as ort.Tensor).type}`)
  const shape = v.dims.map(Number)
  const data = v.type === 'bool' ? new Uint8Array(v.data as ArrayLike<number>) : v.data
  return E.right({ dtype: v.type, shape, data } as HostTensor)
}

// -------------------------------------------------------------------------------------
// feeds
// -------------------------------------------------------------------------------------

/** Why one feed does not fit its input's declared type, or null. */
const feedProblem = (t: HostTensor, want: ValueType | undefined): string | null => {
  if (t.data.length !== sizeOf(t.shape)) return `${t.data.length} values for shape [${t.shape.join(', ')}]`
  if (want === undefined) return null
  if (t.dtype !== want.dtype) return `expected dtype ${want.dtype}, got ${t.dtype}`
  if (want.shape.length === 0 && t.shape.length === 0) return null
  const fits = t.shape.length === want.shape.length && want.shape.every((d, i) => typeof d !== 'number' || d < 0 || d === t.shape[i])
  return fits ? null : `expected shape [${want.shape.join(', ')}], got [${t.shape.join(', ')}]`
}

/** Checks feeds against the session's inputs: all present, none unknown, types fit. */
const checkFeeds = (inputs: readonly ValueType[], names: readonly string[], feeds: Readonly<Record<string, HostTensor>>): E.Either<CmgaError, void> => {
  const missing = names.filter((n) => !Object.hasOwn(feeds, n))
  if (missing.length > 0) return fail('input', `missing feeds: ${missing.map((n) => `"${n}"`).join(', ')}`)
  const unknown = Object.keys(feeds).filter((n) => !names.includes(n))
  if (unknown.length > 0) return fail('input', `unknown feeds: ${unknown.map((n) => `"${n}"`).join(', ')} (inputs are ${names.join(', ')})`)
  for (const n of names) {
    const problem = feedProblem(feeds[n], inputs.find((i) => i.name === n))
    if (problem !== null) return fail('input', `feed "${n}": ${problem}`)
  }
  return E.right(undefined)
}

// -------------------------------------------------------------------------------------
// sessions
// -------------------------------------------------------------------------------------

const typeOf = (m: ort.InferenceSession.ValueMetadata): ValueType =>
  m.isTensor ? { name: m.name, dtype: m.type, shape: [...m.shape] } : { name: m.name, dtype: 'non-tensor', shape: [] }

const wrap = (s: ort.InferenceSession): Session => {
  const inputs = (s.inputMetadata ?? []).map(typeOf)
  const run = (feeds: Readonly<Record<string, HostTensor>>, fetches?: readonly string[]): TE.TaskEither<CmgaError, Record<string, HostTensor>> =>
    pipe(
      TE.fromEither(checkFeeds(inputs, s.inputNames, feeds)),
      TE.chain(() => {
        const unknown = (fetches ?? []).filter((f) => !s.outputNames.includes(f))
        return unknown.length === 0 ? TE.right(undefined) : TE.left(cmgaError('input', `unknown fetches: ${unknown.join(', ')}`))
      }),
      TE.chain(() =>
        TE.tryCatch(
          () => {
            const ortFeeds = Object.fromEntries(Object.entries(feeds).map(([k, t]) => [k, toOrt(t)]))
            return fetches === undefined ? s.run(ortFeeds) : s.run(ortFeeds, [...fetches])
          },
          (e) => cmgaError('runtime', message(e))
        )
      ),
      TE.chainEitherK((out) => {
        const result: Record<string, HostTensor> = {}
        for (const [k, v] of Object.entries(out)) {
          const t = fromOrt(k, v)
          if (E.isLeft(t)) return t
          result[k] = t.right
        }
        return E.right(result)
      })
    )
  return {
    inputNames: s.inputNames,
    outputNames: s.outputNames,
    inputs,
    run,
    release: () => TE.tryCatch(() => s.release(), (e) => cmgaError('runtime', message(e)))
  }
}

/** Opens a session on model bytes or a model path (external data resolves next to it). */
export const openSession = (model: Uint8Array | string, opts: SessionOptions = {}): TE.TaskEither<CmgaError, Session> => {
  const device = opts.device ?? 'cpu'
  const problem = deviceProblem(device)
  if (problem !== null) return TE.left(cmgaError('usage', `--device ${device}: ${problem}`))
  const options: ort.InferenceSession.SessionOptions = {
    ...threadOptions(opts.threads ?? 2, opts.spinning),
    graphOptimizationLevel: opts.optimization ?? 'all',
    executionProviders: [...providersOf(device)]
  }
  return pipe(
    TE.tryCatch(
      () => (typeof model === 'string' ? ort.InferenceSession.create(model, options) : ort.InferenceSession.create(model, options)),
      (e) => cmgaError('runtime', message(e))
    ),
    TE.map(wrap)
  )
}
