/**
 * Flags shared by the commands that run a model through the runtime API (`index`,
 * `retrieve`, `eval retrieval`): the model, its vocabulary, threads and batching; and
 * writing JSON results.
 * @since 0.1.0
 */
import * as E from 'fp-ts/lib/Either.js'
import { pipe } from 'fp-ts/lib/function.js'
import type { CmgaError } from '../compiler/errors.js'
import { fail } from '../compiler/errors.js'
import type { Runtime } from '../apps/cmga/runtime.js'
import type { Device } from '../runtime/device.js'
import { DEVICES, deviceProblem } from '../runtime/device.js'
import { openRuntime } from '../apps/cmga/runtime.js'
import type { OnImageError } from '../runtime/images/batch.js'
import { writeTextAtomic } from '../apps/retrieval/files.js'
import type { Flags, Values } from './command.js'
import { integer, oneOf, required } from './command.js'

/** The flag definitions. */
export const runtimeFlags: Flags = {
  model: { type: 'string' },
  vocab: { type: 'string' },
  'max-length': { type: 'string' },
  workers: { type: 'string' },
  threads: { type: 'string' },
  batch: { type: 'string' },
  device: { type: 'string' },
  spin: { type: 'boolean' }
}

/** The help lines of `--device`, continuation lines indented by `pad`. */
export const deviceHelp = (column: number): string =>
  [`${'  --device D'.padEnd(column)}cpu (default), cuda or tensorrt: onnxruntime's execution`, "provider (GPU ones need onnxruntime-node's GPU libraries,", "which this project's install skips)"].join(`\n${' '.repeat(column)}`)

/** Their help lines. */
export const runtimeHelp = (): string => `  --model DIR          a model directory written by cmga compile
  --vocab FILE         vocab.txt or tokenizer.json, or a folder with one
                       (default: the model directory)
  --max-length N       tokens per text, [CLS] and [SEP] included (default 30,
                       at most text.maxPositions)
  --workers N          worker threads running the model (default 0: the main thread)
  --threads N          onnxruntime intra-op threads per worker (default: the
                       cores shared among the workers; 2 with --workers 0)
  --batch N            rows per model run (default 8)
  --spin               let onnxruntime's idle threads spin (its own default): lower
                       latency when cores are free, slower when they are few and the
                       stages many (by default they sleep; see README, Threads)
${deviceHelp(23)}`

/** The `--out FILE` and `--force` help lines of a command that prints JSON. */
export const jsonOutHelp = `  --out FILE           write the JSON there (atomically) instead of stdout
  --force              replace an existing --out FILE`

/** Opens the runtime the flags describe (warnings, e.g. about the vocabulary, go to `warn`). */
export const runtimeFrom = (cmd: string, values: Values, warn: (line: string) => void = () => undefined): E.Either<CmgaError, Runtime> =>
  pipe(
    E.Do,
    E.bind('dir', () => required(cmd, values, 'model')),
    E.bind('workers', () => integer(cmd, values, 'workers', 0, 0, 64)),
    E.bind('threads', ({ workers }) => (values.threads === undefined ? E.right(undefined) : integer(cmd, values, 'threads', 1, 1, 256))),
    E.bind('batchSize', () => integer(cmd, values, 'batch', 8, 1, 4096)),
    E.bind('maxLength', () => (values['max-length'] === undefined ? E.right(undefined) : integer(cmd, values, 'max-length', 30, 2, 1 << 20))),
    E.bind('device', () => deviceFlag(cmd, values)),
    E.chain(({ dir, workers, threads, batchSize, maxLength, device }) =>
      openRuntime(dir, { workers, batchSize, device, warn, spinning: values.spin === true, ...(threads === undefined ? {} : { threads }), ...(maxLength === undefined ? {} : { maxLength }), ...(typeof values.vocab === 'string' ? { vocab: values.vocab } : {}) })
    )
  )

/** `--device cpu|cuda|tensorrt` (default cpu), refused up front when this onnxruntime-node install cannot use it. */
export const deviceFlag = (cmd: string, values: Values): E.Either<CmgaError, Device> =>
  E.chain((d: Device) => {
    const problem = deviceProblem(d)
    return problem === null ? E.right(d) : fail<Device>('usage', `cmga ${cmd}: --device ${d}: ${problem}`)
  })(oneOf(cmd, values, 'device', DEVICES, 'cpu'))

/** `--on-error skip|fail`. */
export const onErrorFlag = (cmd: string, values: Values, fallback: OnImageError): E.Either<CmgaError, OnImageError> => {
  const v = values['on-error'] ?? fallback
  return v === 'skip' || v === 'fail' ? E.right(v) : fail('usage', `cmga ${cmd}: --on-error must be skip or fail, got "${String(v)}"`)
}

/** A number flag (finite) with a default. */
export const numberFlag = (cmd: string, values: Values, flag: string, fallback: number): E.Either<CmgaError, number> => {
  const v = values[flag]
  if (v === undefined) return E.right(fallback)
  const n = Number(v)
  return typeof v === 'string' && v.trim() !== '' && Number.isFinite(n) ? E.right(n) : fail('usage', `cmga ${cmd}: --${flag} must be a number, got "${String(v)}"`)
}

/** A comma-separated list of finite numbers (e.g. `0,0.01,0.1`); absent: undefined. */
export const numberListFlag = (cmd: string, values: Values, flag: string): E.Either<CmgaError, number[] | undefined> => {
  const v = values[flag]
  if (v === undefined) return E.right(undefined)
  const parts = typeof v === 'string' ? v.split(',').map((x) => x.trim()) : []
  const ns = parts.map(Number)
  return parts.length > 0 && parts.every((x, i) => x !== '' && Number.isFinite(ns[i]))
    ? E.right(ns)
    : fail('usage', `cmga ${cmd}: --${flag} must be numbers separated by commas (e.g. 0,0.01,0.1), got "${String(v)}"`)
}

/** Writes a result as JSON to `--out FILE` (atomically) or to stdout. */
export const writeResult = (values: Values, result: unknown, log: (line: string) => void): E.Either<CmgaError, void> => {
  const text = JSON.stringify(result, null, 2) + '\n'
  if (typeof values.out !== 'string') {
    process.stdout.write(text)
    return E.right(undefined)
  }
  return E.map(() => log(`wrote ${values.out as string}`))(writeTextAtomic(values.out, text))
}

/** Runs `f` with the runtime open, closing it (and its worker threads) afterwards. */
export const withRuntime = async <A>(rt: Runtime, f: (rt: Runtime) => Promise<E.Either<CmgaError, A>>): Promise<E.Either<CmgaError, A>> => {
  try {
    return await f(rt)
  } finally {
    await rt.close()
  }
}
