/**
 * A whole training run, as `cmga train` does it: the config, the annotations, the
 * vocabulary, the starting state (seeded random weights, a checkpoint to fine-tune, or
 * the run's own latest checkpoint when resuming), the loop, and at the end
 * `OUT/weights.safetensors` (ALBEF names), `OUT/log.json` and `OUT/loss.svg`.
 * @since 0.1.0
 */
import { existsSync, mkdirSync } from 'node:fs'
import { join } from 'node:path'
import * as E from 'fp-ts/lib/Either.js'
import { writeFileAtomic, writeFilesAtomic } from '../../compiler/atomic.js'
import type { CmgaError } from '../../compiler/errors.js'
import { fail } from '../../compiler/errors.js'
import type { HostTensor } from '../../compiler/ir/tensor.js'
import type { AdamWOptions } from '../../compiler/train/adamw.js'
import { adamwDefaults } from '../../compiler/train/adamw.js'
import { importCheckpoint, trainingOnly } from '../compile/checkpoint.js'
import type { CmgaConfig } from '../../models/cmga/config.js'
import { readConfigFile } from '../cmga/config-file.js'
import { randomWeights } from '../compile/random-init.js'
import type { TrainMode } from '../../models/cmga/train-step.js'
import { lossNames } from '../../models/cmga/train-step.js'
import { encodeSafetensors } from '../../runtime/safetensors/index.js'
import type { TrainState } from './checkpoint.js'
import { hasCheckpoint, initialState, loadCheckpoint, weightTensors } from './checkpoint.js'
import { maskingVocab, readAnnotations } from './data.js'
import { workerPipeline } from './data-pool.js'
import type { HistoryEntry, LoopResult, RunOptions } from './loop.js'
import { trainLoop } from './loop.js'
import { lossCurveSvg } from './plot.js'
import { runVocabulary } from './vocab.js'

// -------------------------------------------------------------------------------------
// model
// -------------------------------------------------------------------------------------

/** What `cmga train` is asked to do. */
export interface TrainRequest {
  readonly configPath: string
  readonly annotations: string
  readonly images: string
  readonly out: string
  /** Weights to start from (ALBEF names); training-only ones it lacks are drawn at random. */
  readonly init?: string
  /** A vocab.txt / tokenizer.json (default: vocab.txt beside the config, else made from the captions). */
  readonly vocab?: string
  readonly resume: boolean
  /** `length` 0 means the default, min(30, text.maxPositions). */
  readonly options: RunOptions
  readonly threads: number
  readonly saveEvery: number
  readonly keepCheckpoints: number
}

/** Callbacks for the CLI. */
export interface TrainEvents {
  readonly log: (line: string) => void
  readonly onStep?: (e: HistoryEntry, o: RunOptions) => void
}

/** The outcome: where things were written and how fast the steps ran. */
export interface TrainSummary {
  readonly steps: number
  readonly stepsRun: number
  readonly seconds: number
  readonly stepsPerSecond: number
  readonly final: Readonly<Record<string, number>>
}

// -------------------------------------------------------------------------------------
// set-up
// -------------------------------------------------------------------------------------

/** Options a resumed run must share with the run it continues (steps may grow). */
const FIXED: readonly (keyof RunOptions)[] = ['mode', 'batch', 'length', 'lr', 'warmupLr', 'seed', 'warmupKeep', 'keepLevels', 'adamw']

const startingWeights = (c: CmgaConfig, req: TrainRequest, log: (l: string) => void): E.Either<CmgaError, ReadonlyMap<string, HostTensor<'float32'>>> => {
  const random = randomWeights(c, req.options.seed)
  if (req.init === undefined) return E.right(random)
  return E.map((ck: { weights: ReadonlyMap<string, HostTensor<'float32'>> }) => {
    const drawn = [...random.keys()].filter((k) => !ck.weights.has(k) && trainingOnly(k))
    if (drawn.length > 0) log(`${req.init} has no ${drawn.join(', ')}: drawn at random`)
    return new Map([...random, ...ck.weights])
  })(importCheckpoint(c, req.init, 'inference'))
}

const resumeState = (c: CmgaConfig, req: TrainRequest, log: (l: string) => void): E.Either<CmgaError, { state: TrainState; history: readonly HistoryEntry[] }> => {
  if (!req.resume || !hasCheckpoint(req.out)) {
    if (req.resume) log(`no checkpoint in ${req.out}: starting from step 0`)
    else if (hasCheckpoint(req.out)) return fail('usage', `${req.out} already holds a training run: pass --resume to continue it, or choose another --out`)
    return E.map((w: ReadonlyMap<string, HostTensor<'float32'>>) => ({ state: initialState(w), history: [] as HistoryEntry[] }))(startingWeights(c, req, log))
  }
  return E.chain(({ state, record }: { state: TrainState; record: Record<string, unknown> }) => {
    const saved = (record.options ?? {}) as Record<string, unknown>
    const differ = FIXED.filter((k) => JSON.stringify(saved[k]) !== JSON.stringify(req.options[k]))
    if (differ.length > 0) {
      return fail('usage', `--resume: the run in ${req.out} was started with other ${differ.map((k) => `${k} (${JSON.stringify(saved[k])}, now ${JSON.stringify(req.options[k])})`).join(', ')}`)
    }
    log(`resuming from step ${state.step}`)
    return E.right({ state, history: (record.history ?? []) as HistoryEntry[] })
  })(loadCheckpoint(req.out, c))
}

// -------------------------------------------------------------------------------------
// outputs
// -------------------------------------------------------------------------------------

const writeResults = (c: CmgaConfig, req: TrainRequest, r: LoopResult, summary: TrainSummary, vocabSource: string): E.Either<CmgaError, void> => {
  const names = [...lossNames(req.options.mode)]
  const series = names.map((n) => ({ name: n, points: r.history.map((h) => [h.step, h.values[n]] as const) }))
  const log = { format: 'cmga-train-log', config: c, options: req.options, vocabulary: vocabSource, summary, history: r.history }
  return writeFilesAtomic([
    [join(req.out, 'weights.safetensors'), encodeSafetensors(weightTensors(c, r.state), { format: 'pt', step: String(r.state.step) })],
    [join(req.out, 'log.json'), JSON.stringify(log, null, 1) + '\n'],
    [join(req.out, 'loss.svg'), lossCurveSvg(series, `cmga train (${req.options.mode}): ${r.state.step} steps, batch ${req.options.batch}`)]
  ])
}

// -------------------------------------------------------------------------------------
// the run
// -------------------------------------------------------------------------------------

/** Runs (or resumes) a training run. */
export const runTraining = async (request: TrainRequest, ev: TrainEvents): Promise<E.Either<CmgaError, TrainSummary>> => {
  if (request.options.batch < 2) return fail('usage', `--batch must be at least 2 (each pair's hard negatives come from the others), got ${request.options.batch}`)
  const config = readConfigFile(request.configPath)
  if (E.isLeft(config)) return config
  const c = config.right
  // length 0: the default, ALBEF's 30 tokens within the config's positions
  const o: RunOptions = { ...request.options, length: request.options.length === 0 ? Math.min(30, c.text.maxPositions) : request.options.length }
  const req: TrainRequest = { ...request, options: o }
  if (o.length < 2 || o.length > c.text.maxPositions) return fail('usage', `--max-len must be in [2, text.maxPositions = ${c.text.maxPositions}], got ${o.length}`)
  const examples = readAnnotations(req.annotations, req.images)
  if (E.isLeft(examples)) return examples
  if (examples.right.length < o.batch) return fail('input', `${req.annotations} has ${examples.right.length} pairs, fewer than --batch ${o.batch}`)
  try {
    mkdirSync(req.out, { recursive: true })
  } catch (e) {
    return fail('io', `cannot create ${req.out}: ${(e as Error).message}`)
  }
  const savedVocab = join(req.out, 'vocab.txt')
  const vocab = runVocabulary({ given: req.vocab, configPath: req.configPath, saved: req.resume && existsSync(savedVocab) ? savedVocab : undefined }, c, examples.right, o.length)
  if (E.isLeft(vocab)) return vocab
  const masking = o.mode === 'pretrain' ? maskingVocab(vocab.right.tokenizer, c.text.vocabSize) : E.right(undefined)
  if (E.isLeft(masking)) return masking
  const start = resumeState(c, req, ev.log)
  if (E.isLeft(start)) return start
  if (vocab.right.text !== null) {
    const w = writeFileAtomic(savedVocab, vocab.right.text)
    if (E.isLeft(w)) return w
  }
  ev.log(`${examples.right.length} pairs; vocabulary: ${vocab.right.source}`)
  const m = masking.right
  const data = workerPipeline({
    examples: examples.right,
    tokenizer: vocab.right.definition,
    tokenizerOptions: vocab.right.options,
    ...(m === undefined ? {} : { vocab: { special: [...m.special], maskId: m.maskId, size: m.size } }),
    options: { mode: o.mode, batch: o.batch, length: o.length, imageSize: c.vision.imageSize, seed: o.seed }
  })
  const r = await trainLoop(o, {
    config: c,
    out: req.out,
    data,
    threads: req.threads,
    saveEvery: req.saveEvery,
    keepCheckpoints: req.keepCheckpoints,
    record: { format: 'cmga-train', vocabulary: vocab.right.source },
    onStep: ev.onStep,
    onCompile: (rate, ms) => ev.log(`compiled the train step for keep rate ${rate.toFixed(3)} (${(ms / 1000).toFixed(1)} s)`)
  }, start.right.state, start.right.history)
  await data.close()
  if (E.isLeft(r)) return r
  const last = r.right.history[r.right.history.length - 1]
  const summary: TrainSummary = {
    steps: r.right.state.step,
    stepsRun: r.right.stepsRun,
    seconds: r.right.seconds,
    stepsPerSecond: r.right.stepsRun / Math.max(r.right.seconds, 1e-9),
    final: last?.values ?? {}
  }
  const w = writeResults(c, req, r.right, summary, vocab.right.source)
  return E.map(() => summary)(w)
}

/** The AdamW options of the CLI's flags (PyTorch's betas and eps). */
export const adamwFrom = (weightDecay: number, clipNorm: number | undefined): AdamWOptions => ({ ...adamwDefaults, weightDecay, ...(clipNorm === undefined ? {} : { clipNorm }) })
