/**
 * The training loop: per step, the keep rate's train-step graph (compiled on first
 * use), the batch (loaded one step ahead), the learning rate, one onnxruntime run;
 * the losses go to the history and the progress callback; the state is checkpointed
 * every `saveEvery` steps and after the last one.
 * @since 0.1.0
 */
import * as E from 'fp-ts/lib/Either.js'
import { pipe } from 'fp-ts/lib/function.js'
import type { CmgaError } from '../../compiler/errors.js'
import { fail } from '../../compiler/errors.js'
import type { AdamWOptions } from '../../compiler/train/adamw.js'
import type { CmgaConfig } from '../../models/cmga/config.js'
import { quantizedKeepRate, tokenSchedule, withKeepRate } from '../../models/cmga/keep-rate.js'
import type { NegativeChoice } from '../../models/cmga/losses.js'
import type { Objective, TrainObjective } from '../../models/cmga/train-step.js'
import { cmgaTrainStep, lossNames } from '../../models/cmga/train-step.js'
import type { RunRecord, TrainState } from './checkpoint.js'
import { saveCheckpoint } from './checkpoint.js'
import { compileTraining } from './compile.js'
import type { Batch, FlipMode, Pipeline, VerticalFlip } from './data.js'
import type { FocusOption } from './near-misses.js'
import type { StepSession } from './runner.js'
import { makeRunner, openStepSession } from './runner.js'
import { learningRate } from './schedule.js'

// -------------------------------------------------------------------------------------
// model
// -------------------------------------------------------------------------------------

/** Everything that determines a run (saved in every checkpoint; a resume must agree). */
export interface RunOptions {
  /** The objectives minimized (their sum), in `objectiveNames` order. */
  readonly objectives: readonly Objective[]
  /** How ITM picks its negatives (`NegativeChoice`; `hard` is the spec's argmax). */
  readonly itmNegatives: NegativeChoice['kind']
  /** The sampling temperature of `sample` negatives. */
  readonly negTemp: number
  /** ITM trains the relation module and the ITM head only (`TrainObjective.itmDetach`). */
  readonly itmDetach?: boolean
  /** The horizontal-flip augmentation. */
  readonly flip: FlipMode
  /** The vertical-flip augmentation (`VerticalFlip`); none when absent. */
  readonly vflip?: VerticalFlip
  /** Share of each batch made of near-miss partners (0: batches drawn plainly). */
  readonly nearMisses: number
  /** Where partners are drawn first (`NearMissFocus`): its words and share; share 0 is none. */
  readonly nearMissFocus?: FocusOption
  /** Whether a phrase of one word against two is a near miss too ("above" / "left of"). */
  readonly nearMissSpans?: boolean
  readonly steps: number
  readonly batch: number
  /** Tokens per text. */
  readonly length: number
  readonly lr: number
  /** Steps of linear learning-rate warm-up. */
  readonly warmupLr: number
  /** The final learning rate as a fraction of `lr` (the cosine's floor). */
  readonly lrFloor: number
  readonly seed: number
  /** Standard deviation of the text and fusion attention's query and key matrices when drawn at random (`randomWeights`). */
  readonly initQkStd: number
  /** Steps of keep-rate warm-up (0: the configured rate throughout). */
  readonly warmupKeep: number
  /** Keep-rate levels the warm-up is quantized to. */
  readonly keepLevels: number
  readonly adamw: AdamWOptions
}

/** One step of the history. */
export interface HistoryEntry {
  /** Updates taken after this step (1 for the first). */
  readonly step: number
  readonly lr: number
  readonly keepRate: number
  /** Seconds since the run (or the resumed part of it) started, graph compilation left out. */
  readonly time: number
  /** `loss`, `loss_itc`, ..., `grad_norm`. */
  readonly values: Readonly<Record<string, number>>
}

/** What the loop needs besides the options. */
export interface LoopContext {
  readonly config: CmgaConfig
  readonly out: string
  readonly data: Pipeline
  readonly threads: number
  readonly saveEvery: number
  readonly keepCheckpoints: number
  /** Extra fields for every checkpoint's `trainer.json`. */
  readonly record: Readonly<Record<string, unknown>>
  /** Called after each step. */
  readonly onStep?: (e: HistoryEntry, options: RunOptions) => void
  /** Called when a train-step graph is compiled. */
  readonly onCompile?: (keepRate: number, ms: number) => void
}

/** The final state, the whole history, and the seconds the steps took (compilation left out). */
export interface LoopResult {
  readonly state: TrainState
  readonly history: readonly HistoryEntry[]
  readonly seconds: number
  readonly stepsRun: number
}

/** The objectives and ITM negatives a run's train-step graphs minimize. */
export const trainObjectiveOf = (o: RunOptions): TrainObjective => ({
  objectives: o.objectives,
  negatives: o.itmNegatives === 'sample' ? { kind: 'sample', temperature: o.negTemp } : { kind: o.itmNegatives },
  ...(o.itmDetach === true ? { itmDetach: true } : {})
})

// -------------------------------------------------------------------------------------
// the loop
// -------------------------------------------------------------------------------------

/** Runs the steps from `start.step` to `o.steps`, continuing `history`. */
export const trainLoop = async (o: RunOptions, ctx: LoopContext, start: TrainState, history: readonly HistoryEntry[]): Promise<E.Either<CmgaError, LoopResult>> => {
  const c = ctx.config
  const runner = makeRunner(start)
  const sessions = new Map<string, Promise<E.Either<CmgaError, StepSession>>>()
  const sessionFor = (rate: number): Promise<E.Either<CmgaError, StepSession>> => {
    const key = tokenSchedule(c, rate)
    let s = sessions.get(key)
    if (s === undefined) {
      const t0 = performance.now()
      const built = pipe(
        cmgaTrainStep(withKeepRate(c, rate), o.batch, o.length, trainObjectiveOf(o), o.adamw),
        E.chain((step) => E.map((compiled: { model: Uint8Array }) => ({ model: compiled.model, params: step.params }))(compileTraining(step.graph)))
      )
      s = E.isLeft(built) ? Promise.resolve(built) : openStepSession(built.right.model, built.right.params, ctx.threads)
      void s.then(() => ctx.onCompile?.(rate, performance.now() - t0))
      sessions.set(key, s)
    }
    return s
  }
  const all = [...history]
  const names = [...lossNames(o.objectives), 'grad_norm']
  const record = (state: TrainState): RunRecord => ({ ...ctx.record, options: o, step: state.step, history: all })
  const t0 = performance.now()
  let compiling = 0 // milliseconds spent waiting for graphs, left out of the timings
  let next: Promise<E.Either<CmgaError, Batch>> | null = start.step < o.steps ? ctx.data.batchAt(start.step) : null
  for (let k = start.step; k < o.steps; k++) {
    const rate = quantizedKeepRate(c.compression.keepRate, o.warmupKeep, k, o.keepLevels)
    const w0 = performance.now()
    const session = await sessionFor(rate)
    compiling += performance.now() - w0
    if (E.isLeft(session)) return session
    const batch = await (next as Promise<E.Either<CmgaError, Batch>>)
    if (E.isLeft(batch)) return batch
    next = k + 1 < o.steps ? ctx.data.batchAt(k + 1) : null
    const lr = learningRate({ base: o.lr, steps: o.steps, warmup: o.warmupLr, floor: o.lrFloor }, k)
    const r = await runner.step(session.right, batch.right, lr)
    if (E.isLeft(r)) return r
    const values = Object.fromEntries(names.map((n) => [n, r.right.scalars[n]]))
    if (!Number.isFinite(values.loss) || !Number.isFinite(values.grad_norm)) {
      return fail('runtime', `step ${k + 1}: the ${Number.isFinite(values.loss) ? 'gradient norm' : 'loss'} is not finite (diverged); lower --lr or set --clip`)
    }
    const entry: HistoryEntry = { step: k + 1, lr, keepRate: rate, time: (performance.now() - t0 - compiling) / 1000, values }
    all.push(entry)
    ctx.onStep?.(entry, o)
    if ((k + 1) % ctx.saveEvery === 0 || k + 1 === o.steps) {
      const state = runner.state()
      const saved = saveCheckpoint(ctx.out, c, state, record(state), ctx.keepCheckpoints)
      if (E.isLeft(saved)) return saved
    }
  }
  for (const s of sessions.values()) void s.then((r) => (E.isRight(r) ? r.right.session.release() : undefined))
  return E.right({ state: runner.state(), history: all, seconds: (performance.now() - t0 - compiling) / 1000, stepsRun: o.steps - start.step })
}
