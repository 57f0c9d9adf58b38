/**
 * A whole training run, as `cmga train` does it: the config, the annotations, the
 * vocabulary, the starting state (seeded random weights, a checkpoint to fine-tune, or
 * the run's own latest checkpoint when resuming), the loop, and at the end
 * `OUT/weights.safetensors` (ALBEF names), `OUT/log.json` and `OUT/loss.svg`.
 * @since 0.1.0
 */
import { existsSync, mkdirSync, rmSync } from 'node:fs'
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
import { QK_INIT_STD, randomWeights } from '../compile/random-init.js'
import { lossNames, modeObjectives, needsItmBias, needsItmNoise } from '../../models/cmga/train-step.js'
import { encodeSafetensors } from '../../runtime/safetensors/index.js'
import type { TrainState } from './checkpoint.js'
import { hasCheckpoint, initialState, loadCheckpoint, weightTensors } from './checkpoint.js'
import { maskingVocab, readAnnotations } from './data.js'
import { workerPipeline } from './data-pool.js'
import type { HistoryEntry, LoopResult, RunOptions } from './loop.js'
import { trainLoop, trainObjectiveOf } from './loop.js'
import { lossCurveSvg } from './plot.js'
import { runVocabulary } from './vocab.js'
import { vocabularyFit } from '../cmga/vocabulary.js'

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
  /** Remove an existing OUT first and start afresh (`--force`). */
  readonly replace?: boolean
  /**
   * `length` 0 means the default, min(30, text.maxPositions); `warmupLr` undefined the
   * default, 5% of `steps` in a new run and the resumed run's own warm-up in a resume;
   * `initQkStd` undefined `QK_INIT_STD` in a new run and the resumed run's in a resume.
   */
  readonly options: Omit<RunOptions, 'warmupLr' | 'initQkStd'> & { readonly warmupLr?: number; readonly initQkStd?: number }
  readonly threads: number
  readonly saveEvery: number
  readonly keepCheckpoints: number
  /** Decoded training images kept in memory, in MiB (`--image-cache`; default `DEFAULT_IMAGE_CACHE_MB`). */
  readonly imageCacheMb?: number
}

/** `--image-cache`'s default: 30,000 shapes-world images at 32 px take 88 MiB, 5,000 at 224 px 718 MiB. */
export const DEFAULT_IMAGE_CACHE_MB = 1024

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

/** The options a resumed run must share with the run it continues (steps may grow), by the flag that sets each. */
const FIXED: ReadonlyArray<readonly [string, (o: Partial<RunOptions>) => unknown]> = [
  ['--objectives (or --mode)', (o) => o.objectives?.join(',')],
  ['--itm-negatives', (o) => o.itmNegatives],
  ['--neg-temp', (o) => o.negTemp],
  ['--itm-detach', (o) => (o.itmDetach === true ? true : undefined)],
  ['--flip', (o) => o.flip],
  ['--vflip / --vflip-skip', (o) => (o.vflip === undefined ? undefined : `swap, skip ${o.vflip.skip.join(',') || 'none'}`)],
  ['--near-misses', (o) => o.nearMisses],
  ['--near-miss-focus', (o) => (o.nearMissFocus === undefined || o.nearMissFocus.share === 0 ? undefined : `${o.nearMissFocus.words.join(',')}:${o.nearMissFocus.share}`)],
  ['--near-miss-spans', (o) => (o.nearMissSpans === true ? true : undefined)],
  ['--batch', (o) => o.batch],
  ['--max-length', (o) => o.length],
  ['--lr', (o) => o.lr],
  ['--lr-floor', (o) => o.lrFloor],
  ['--warmup-lr', (o) => o.warmupLr],
  ['--seed', (o) => o.seed],
  ['--init-qk-std', (o) => o.initQkStd],
  ['--warmup-keep', (o) => o.warmupKeep],
  ['--keep-levels', (o) => o.keepLevels],
  ['--weight-decay', (o) => o.adamw?.weightDecay],
  ['--clip', (o) => o.adamw?.clipNorm],
  ['the AdamW betas and eps', (o) => (o.adamw === undefined ? undefined : [o.adamw.beta1, o.adamw.beta2, o.adamw.eps])]
]

/** The options of a saved run, with what runs from before an option was added did. */
const savedOptions = (saved: Record<string, unknown>): Partial<RunOptions> => ({
  objectives: saved.mode === 'retrieval' ? modeObjectives.retrieval : modeObjectives.pretrain,
  itmNegatives: 'hard',
  negTemp: 0.05,
  flip: 'plain',
  nearMisses: 0,
  lrFloor: 0.01,
  initQkStd: 0.02,
  ...saved
})

const showValue = (x: unknown): string =>
  x === undefined ? 'none' : typeof x === 'number' ? (x !== 0 && Math.abs(x) < 1e-2 ? x.toExponential() : String(x)) : typeof x === 'string' ? x : JSON.stringify(x)

/** What differs between the run being resumed and this one, by flag (null when nothing does). */
export const resumeMismatch = (saved: Partial<RunOptions>, now: RunOptions): string | null => {
  const differ = FIXED.filter(([, get]) => JSON.stringify(get(saved)) !== JSON.stringify(get(now)))
  return differ.length === 0 ? null : differ.map(([flag, get]) => `${flag} differs from the run being resumed (${showValue(get(saved))} there, ${showValue(get(now))} here)`).join('; ')
}

const startingWeights = (c: CmgaConfig, req: TrainRequest, log: (l: string) => void): E.Either<CmgaError, ReadonlyMap<string, HostTensor<'float32'>>> => {
  const random = randomWeights(c, req.options.seed, 0.02, req.options.initQkStd ?? QK_INIT_STD)
  if (req.init === undefined) return E.right(random)
  return E.map((ck: { weights: ReadonlyMap<string, HostTensor<'float32'>> }) => {
    const drawn = [...random.keys()].filter((k) => !ck.weights.has(k) && trainingOnly(k))
    if (drawn.length > 0) log(`${req.init} has no ${drawn.join(', ')}: drawn at random`)
    return new Map([...random, ...ck.weights])
  })(importCheckpoint(c, req.init, 'inference'))
}

/** The state to start from, the history so far, and when resuming the resumed run's options. */
interface Start {
  readonly state: TrainState
  readonly history: readonly HistoryEntry[]
  readonly saved?: Partial<RunOptions>
}

const resumeState = (c: CmgaConfig, req: TrainRequest, log: (l: string) => void): E.Either<CmgaError, Start> => {
  if (!req.resume || !hasCheckpoint(req.out)) {
    if (req.resume) log(`no checkpoint in ${req.out}: starting from step 0`)
    return E.map((w: ReadonlyMap<string, HostTensor<'float32'>>) => ({ state: initialState(w), history: [] as HistoryEntry[] }))(startingWeights(c, req, log))
  }
  return E.map(({ state, record }: { state: TrainState; record: Record<string, unknown> }) => ({
    state,
    history: (record.history ?? []) as HistoryEntry[],
    saved: savedOptions((record.options ?? {}) as Record<string, unknown>)
  }))(loadCheckpoint(req.out, c))
}

// -------------------------------------------------------------------------------------
// outputs
// -------------------------------------------------------------------------------------

const writeResults = (c: CmgaConfig, req: TrainRequest, o: RunOptions, r: LoopResult, summary: TrainSummary, vocabSource: string): E.Either<CmgaError, void> => {
  const names = [...lossNames(o.objectives)]
  const series = names.map((n) => ({ name: n, points: r.history.map((h) => [h.step, h.values[n]] as const) }))
  const log = { format: 'cmga-train-log', config: c, options: o, vocabulary: vocabSource, summary, history: r.history }
  return writeFilesAtomic([
    [join(req.out, 'weights.safetensors'), encodeSafetensors(weightTensors(c, r.state), { format: 'pt', step: String(r.state.step) })],
    [join(req.out, 'log.json'), JSON.stringify(log, null, 1) + '\n'],
    [join(req.out, 'loss.svg'), lossCurveSvg(series, `cmga train (${o.objectives.join(' + ')}): ${r.state.step} steps, batch ${o.batch}`)]
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
  const o: TrainRequest['options'] = { ...request.options, length: request.options.length === 0 ? Math.min(30, c.text.maxPositions) : request.options.length }
  const req: TrainRequest = { ...request, options: o }
  if (o.length < 2 || o.length > c.text.maxPositions) return fail('usage', `--max-length must be in [2, text.maxPositions = ${c.text.maxPositions}], got ${o.length}`)
  if (o.objectives.length === 0) return fail('usage', '--objectives: choose at least one of itc, ftc, itm, mlm')
  const examples = readAnnotations(req.annotations, req.images)
  if (E.isLeft(examples)) return examples
  if (examples.right.length < o.batch) return fail('input', `${req.annotations} has ${examples.right.length} pairs, fewer than --batch ${o.batch}`)
  if (!req.resume && existsSync(req.out)) {
    if (req.replace !== true) {
      const held = hasCheckpoint(req.out) ? '; it holds a training run: --resume continues it' : ''
      return fail('usage', `--out ${req.out} already exists (use --force to replace it)${held}`)
    }
    rmSync(req.out, { recursive: true, force: true })
  }
  try {
    mkdirSync(req.out, { recursive: true })
  } catch (e) {
    return fail('io', `cannot create ${req.out}: ${(e as Error).message}`)
  }
  const savedVocab = join(req.out, 'vocab.txt')
  const vocab = runVocabulary({ given: req.vocab, configPath: req.configPath, saved: req.resume && existsSync(savedVocab) ? savedVocab : undefined, init: req.init }, c, examples.right, o.length)
  if (E.isLeft(vocab)) return vocab
  if (req.init !== undefined && vocab.right.fromCaptions) {
    ev.log(`warning: no vocabulary beside ${req.init} and no --vocab: the vocabulary is made from the captions, and the word embeddings of --init are only right if they were trained with that same one`)
  }
  if (!vocab.right.fromCaptions) {
    const fit = vocabularyFit(vocab.right.source, vocab.right.tokenizer.vocabSize, c.text.vocabSize)
    if (E.isLeft(fit)) return fit
    if (fit.right !== null) ev.log(fit.right)
  }
  const masking = o.objectives.includes('mlm') ? maskingVocab(vocab.right.tokenizer, c.text.vocabSize) : E.right(undefined)
  if (E.isLeft(masking)) return masking
  const start = resumeState(c, req, ev.log)
  if (E.isLeft(start)) return start
  // the warm-up is resolved once and saved, so a resume with more --steps keeps it
  const saved = start.right.saved
  const run: RunOptions = { ...o, warmupLr: o.warmupLr ?? saved?.warmupLr ?? Math.round(o.steps * 0.05), initQkStd: o.initQkStd ?? saved?.initQkStd ?? QK_INIT_STD }
  const mismatch = saved === undefined ? null : resumeMismatch(saved, run)
  if (mismatch !== null) return fail('usage', `--resume: ${mismatch}`)
  if (saved !== undefined) ev.log(`resuming from step ${start.right.state.step}`)
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
    options: { objectives: o.objectives, itmNoise: needsItmNoise(trainObjectiveOf(run)), itmBias: needsItmBias(trainObjectiveOf(run)), batch: o.batch, length: o.length, imageSize: c.vision.imageSize, seed: o.seed, flip: o.flip, ...(o.vflip === undefined ? {} : { vflip: o.vflip }), nearMisses: o.nearMisses, ...(o.nearMissFocus === undefined ? {} : { nearMissFocus: o.nearMissFocus }), ...(o.nearMissSpans === true ? { nearMissSpans: true } : {}), imageCacheBytes: (req.imageCacheMb ?? DEFAULT_IMAGE_CACHE_MB) * 2 ** 20 }
  })
  const r = await trainLoop(run, {
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
  const w = writeResults(c, req, run, r.right, summary, vocab.right.source)
  return E.map(() => summary)(w)
}

/** The AdamW options of the CLI's flags (PyTorch's betas and eps). */
export const adamwFrom = (weightDecay: number, clipNorm: number | undefined): AdamWOptions => ({ ...adamwDefaults, weightDecay, ...(clipNorm === undefined ? {} : { clipNorm }) })
