/**
 * The error int8 quantization introduces: a float32 and an int8 model directory run
 * on the same sample pairs, compared on `itc_image`, `itc_text` and `itm_logits`
 * (cosine similarity per row, worst and mean) and on the kept-token sets of every
 * compression layer (overlap |kept_int8 ∩ kept_f32| / K, worst and mean).
 * @since 0.1.0
 */
import * as E from 'fp-ts/lib/Either.js'
import * as TE from 'fp-ts/lib/TaskEither.js'
import { pipe } from 'fp-ts/lib/function.js'
import type { CmgaError } from '../../compiler/errors.js'
import type { HostTensor } from '../../compiler/ir/tensor.js'
import { toNumbers } from '../../compiler/ir/tensor.js'
import { loadCmgaModel } from '../cmga/model.js'
import type { Outputs } from '../cmga/infer.js'
import { inferPairs } from '../cmga/infer.js'

/** One compared quantity. */
export interface Agreement {
  readonly worst: number
  readonly mean: number
}

/** The report: cosine per output, overlap per kept-token output. */
export interface QuantizeReport {
  readonly pairs: number
  readonly cosine: Readonly<Record<string, Agreement>>
  readonly keptOverlap: Readonly<Record<string, Agreement>>
}

/** Per leading-axis row, the cosine similarity of `a` and `b`. */
export const rowCosines = (a: HostTensor, b: HostTensor): number[] => {
  const [x, y] = [toNumbers(a), toNumbers(b)]
  const rows = a.shape[0]
  const n = x.length / rows
  return Array.from({ length: rows }, (_, r) => {
    let [xy, xx, yy] = [0, 0, 0]
    for (let i = r * n; i < (r + 1) * n; i++) [xy, xx, yy] = [xy + x[i] * y[i], xx + x[i] * x[i], yy + y[i] * y[i]]
    return xy / Math.max(Math.sqrt(xx * yy), 1e-30)
  })
}

/** Per row of two [B, K] index sets, the fraction of `a`'s indices also in `b`. */
export const rowOverlaps = (a: HostTensor, b: HostTensor): number[] => {
  const [x, y] = [toNumbers(a), toNumbers(b)]
  const [rows, K] = a.shape
  return Array.from({ length: rows }, (_, r) => {
    const want = new Set(y.subarray(r * K, (r + 1) * K))
    return x.subarray(r * K, (r + 1) * K).filter((i) => want.has(i)).length / K
  })
}

const agreement = (xs: readonly number[]): Agreement => ({ worst: Math.min(...xs), mean: xs.reduce((s, v) => s + v, 0) / xs.length })

/** Compares the outputs of the two models. */
export const compareOutputs = (f32: Outputs, int8: Outputs, pairs: number): QuantizeReport => {
  const cosine: Record<string, Agreement> = {}
  for (const k of ['itc_image', 'itc_text', 'itm_logits']) {
    const [a, b] = [int8.get(k), f32.get(k)]
    if (a !== undefined && b !== undefined) cosine[k] = agreement(rowCosines(a, b))
  }
  const keptOverlap: Record<string, Agreement> = {}
  for (const [k, b] of f32) {
    const a = int8.get(k)
    if (k.startsWith('keep.') && a !== undefined) keptOverlap[k] = agreement(rowOverlaps(a, b))
  }
  return { pairs, cosine, keptOverlap }
}

/** Runs both model directories on `feeds` (pairs of `pixels`, `input_ids`, `attention_mask`) and compares. */
export const quantizeReport = (f32Dir: string, int8Dir: string, feeds: ReadonlyMap<string, HostTensor>): TE.TaskEither<CmgaError, QuantizeReport> =>
  pipe(
    TE.fromEither(E.Do),
    TE.bind('a', () => pipe(TE.fromEither(loadCmgaModel(f32Dir)), TE.chain((m) => inferPairs(m, feeds, 'sample inputs')))),
    TE.bind('b', () => pipe(TE.fromEither(loadCmgaModel(int8Dir)), TE.chain((m) => inferPairs(m, feeds, 'sample inputs')))),
    TE.map(({ a, b }) => compareOutputs(a, b, (feeds.get('pixels') as HostTensor).shape[0]))
  )

/** The report as printed lines. */
export const formatReport = (r: QuantizeReport): string[] => [
  `int8 vs float32 on ${r.pairs} sample pairs:`,
  ...Object.entries(r.cosine).map(([k, v]) => `  cosine ${k.padEnd(12)} worst ${v.worst.toFixed(5)}  mean ${v.mean.toFixed(5)}`),
  ...Object.entries(r.keptOverlap).map(([k, v]) => `  kept overlap ${k.padEnd(14)} worst ${v.worst.toFixed(3)}  mean ${v.mean.toFixed(3)}`)
]
