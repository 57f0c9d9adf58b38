/**
 * `cmga reproduce`: the paper's claim on the shapes world, end to end with this
 * project's own commands. Generates a training set and a held-out set (another seed),
 * trains the plan's models on the same data and steps, measures stage-1 recall along
 * the way, evaluates each final model (stage 1, rerank_itm, rerank_combined), times the
 * vision encoders side by side, measures what the compression keeps of the objects,
 * and writes `results.json`, `results.md` and `chart.png`.
 *
 * Every finished step leaves its output in OUT, so running the same command again
 * after an interruption continues where it stopped (the plan must be the same).
 * @since 0.1.0
 */
import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync } from 'node:fs'
import { cpus } from 'node:os'
import { join } from 'node:path'
import * as E from 'fp-ts/lib/Either.js'
import { writeFileAtomic, writeFilesAtomic } from '../../compiler/atomic.js'
import type { CmgaError } from '../../compiler/errors.js'
import { fail } from '../../compiler/errors.js'
import type { CmgaConfig } from '../../models/cmga/config.js'
import type { RankingDefaults } from '../../runtime/model/manifest.js'
import { loadImages } from '../../runtime/images/index.js'
import { loadCmgaModel } from '../cmga/model.js'
import { readAnnotations } from '../retrieval/annotations.js'
import { chartPng } from './chart.js'
import { runCmga } from './cli-steps.js'
import type { Coverage } from './coverage.js'
import { measureCoverage } from './coverage.js'
import type { HeadPhase, ModelPlan, ReproducePlan } from './plan.js'
import { configFor } from './plan.js'
import { f2, resultsMarkdown } from './report.js'
import type { EncoderTiming } from './timing.js'
import { timeEncoders } from './timing.js'
import { recallCeiling } from './ceiling.js'
import type { ContrastReport } from '../retrieval/contrasts.js'
import type { EvalReport } from '../retrieval/evaluate.js'

// -------------------------------------------------------------------------------------
// model
// -------------------------------------------------------------------------------------

/** What to run. */
export interface ReproduceRequest {
  readonly out: string
  readonly plan: ReproducePlan
  /** The shapes config the models are made from. */
  readonly config: CmgaConfig
  readonly threads: number
  /** Replace an OUT that holds something else. */
  readonly force: boolean
  readonly log: (line: string) => void
}

/** ALBEF's recall numbers of one ranking. */
export type Recall = Readonly<Record<string, number>>

/** One model's results. */
export interface ModelResult {
  readonly model: ModelPlan
  readonly stage1: Recall
  readonly rerank_itm?: Recall
  readonly rerank_combined?: Recall
  /** `cmga eval contrasts` on the held-out set: what the model tells apart, by stage 1 (and ITM when it re-ranks). */
  readonly contrasts?: ContrastReport['kinds']
  /** Where its text -> image re-ranking goes wrong (`eval retrieval --confusions`), when it re-ranks. */
  readonly confusions?: EvalReport['confusions']
  /** [step, stage-1 r_mean]. */
  readonly curve: ReadonlyArray<readonly [number, number]>
  /** Training steps per second (steps over their time, compilation left out). */
  readonly stepsPerSecond: number
  readonly trainSeconds: number
  readonly finalLosses: Readonly<Record<string, number>>
  /** The plan's head phase, when the model has one: its run, and the model re-ranked before it. */
  readonly head?: HeadResult
  /** Mean recall on the validation pairs, stage 1 and by each weight of the combined rule, when it re-ranks. */
  readonly validation?: WeightChoice
  /** The held-out set re-ranked by the combined rule at the weight the validation pairs chose, when one beat stage 1 there. */
  readonly rerank_validated?: { readonly weight: number; readonly recall: Recall }
}

/** Stage 1 and the combined rule by weight, on the validation pairs (mean recall). */
export interface WeightChoice {
  readonly stage1: number
  readonly sweep: ReadonlyArray<{ readonly weight: number; readonly r_mean: number }>
}

/** The weight of the combined rule with the best validation recall above stage 1's (the smaller of equals); none where no weight beat it. */
export const chosenWeight = (v: WeightChoice): number | undefined =>
  v.sweep.reduce<{ weight: number; r_mean: number } | undefined>((best, x) => (x.r_mean > v.stage1 && (best === undefined || x.r_mean > best.r_mean || (x.r_mean === best.r_mean && x.weight < best.weight)) ? x : best), undefined)?.weight

/** What the head phase ran, and what the model measured before it. */
export interface HeadResult {
  readonly steps: number
  readonly stepsPerSecond: number
  readonly seconds: number
  readonly finalLosses: Readonly<Record<string, number>>
  /** The first phase's weights on the held-out set (stage 1 is the same after the phase: only the relation module and the ITM head train). */
  readonly before: { readonly stage1: Recall; readonly rerank_itm?: Recall; readonly rerank_combined?: Recall }
}

/** Everything `results.json` holds. */
export interface ReproduceResults {
  readonly format: 'cmga-reproduce'
  readonly plan: ReproducePlan
  readonly machine: { readonly cpu: string; readonly cores: number; readonly node: string }
  readonly models: readonly ModelResult[]
  /** Vision encoders (`vision_image`) side by side on one batch of held-out images. */
  readonly timing: { readonly batch: number; readonly rounds: number; readonly encoders: readonly EncoderTiming[] }
  readonly coverage?: Coverage
  /** The best recall any model can reach on the held-out set (synonymous captions tie). */
  readonly ceiling?: Recall
  /** Wall time of this invocation. */
  readonly seconds: number
  /** This invocation continued an earlier run of the plan in OUT (its finished steps kept, so `seconds` leaves them out). */
  readonly continued?: true
}

// -------------------------------------------------------------------------------------
// steps
// -------------------------------------------------------------------------------------

const readJson = <A>(file: string): A => JSON.parse(readFileSync(file, 'utf8')) as A

/** Runs `cmga` unless `done` exists already. */
const step = async (done: string, args: readonly string[], req: ReproduceRequest, prefix: string): Promise<E.Either<CmgaError, void>> => {
  if (existsSync(done)) {
    req.log(`${prefix}done already (${done})`)
    return E.right(undefined)
  }
  return E.map(() => undefined)(await runCmga(args, req.log, prefix))
}

/** Compiles weights into a model directory with the set's vocabulary beside them. */
const compile = async (req: ReproduceRequest, config: string, weights: string, dir: string, vocab: string, prefix: string): Promise<E.Either<CmgaError, void>> => {
  if (existsSync(join(dir, 'manifest.json'))) return E.right(undefined)
  rmSync(dir, { recursive: true, force: true })
  const r = await runCmga(['compile', '--config', config, '--weights', weights, '--vocab', vocab, '--out', dir], req.log, prefix)
  return E.map(() => undefined)(r)
}

/** The flags every evaluation of a model takes: the set (the held-out one unless said), its stage-1 score, the run's threads, the output. */
const evalFlags = (req: ReproduceRequest, m: ModelPlan, dir: string, out: string, set: 'test' | 'validation' = 'test'): string[] => [
  '--model', dir, '--annotations', join(req.out, `data/${set}/annotations.json`), '--images', join(req.out, `data/${set}`),
  '--max-length', '10', '--stage1', m.stage1, '--workers', '0', '--threads', String(req.threads), '--out', out
]

/** `cmga eval retrieval` of a model directory on the held-out set, re-ranking the top k (0: stage 1 only; else with --confusions and the plan's weights of the combined rule). */
const evalArgs = (req: ReproduceRequest, m: ModelPlan, dir: string, k: number, out: string): string[] => [
  'eval', 'retrieval', ...evalFlags(req, m, dir, out), '--candidates', String(req.plan.testCount), '--k', String(k), ...(k > 0 ? ['--confusions', ...weightSweep(req.plan)] : [])
]

const weightSweep = (p: ReproducePlan): string[] => ['--itm-weight-sweep', p.itmWeights.join(',')]

/** `cmga eval retrieval` on the validation set, re-ranking the top k with each of the plan's weights. */
const validationArgs = (req: ReproduceRequest, m: ModelPlan, dir: string, out: string): string[] => [
  'eval', 'retrieval', ...evalFlags(req, m, dir, out, 'validation'), '--candidates', String(req.plan.validationCount), '--k', String(req.plan.k), ...weightSweep(req.plan)
]

/** The model whose compression the run measures and ships: the first below keep rate 1. */
const compressedModel = <A>(xs: readonly A[], plan: (x: A) => ModelPlan): A | undefined => xs.find((x) => plan(x).compress && plan(x).keepRate < 1)

/** The folder of a model's head-phase run. */
const headRun = (out: string, name: string): string => join(out, 'runs', `${name}-head`)

/** The run whose weights are the model's final ones: the head phase's where it has one. */
const finalRun = (out: string, m: ModelPlan): string => (m.headPhase === true ? headRun(out, m.name) : join(out, 'runs', m.name))

/** Checkpoints of a run, by step. */
const checkpoints = (run: string): Array<[number, string]> => {
  const dir = join(run, 'checkpoints')
  if (!existsSync(dir)) return []
  return readdirSync(dir)
    .filter((d) => /^step-\d+$/.test(d))
    .map((d): [number, string] => [Number(d.slice(5)), join(dir, d, 'weights.safetensors')])
    .sort((a, b) => a[0] - b[0])
}

/** Trains one model, measures its curve and evaluates the final weights. */
const runModel = async (req: ReproduceRequest, m: ModelPlan): Promise<E.Either<CmgaError, ModelResult>> => {
  const p = req.plan
  const prefix = `[${m.name}] `
  const config = join(req.out, 'configs', `${m.name}.json`)
  const run = join(req.out, 'runs', m.name)
  const vocab = join(req.out, 'data/train/vocab.txt')
  const saves = Math.ceil(p.steps / p.evalEvery) + 1
  const trainArgs = [
    'train', '--config', config, '--annotations', join(req.out, 'data/train/annotations.json'), '--images', join(req.out, 'data/train'),
    '--out', run, '--vocab', vocab, '--steps', String(p.steps), '--batch', String(p.batch), '--lr', String(p.lr), '--seed', String(p.trainSeed),
    '--objectives', m.objectives, '--save-every', String(p.evalEvery), '--keep-checkpoints', String(saves), '--threads', String(req.threads),
    ...p.trainFlags,
    ...(m.trainFlags ?? [])
  ]
  // an interrupted run is continued (--resume also starts over a run stopped before its first checkpoint)
  const resume = existsSync(run) && !existsSync(join(run, 'weights.safetensors'))
  const trained = await step(join(run, 'weights.safetensors'), resume ? [...trainArgs, '--resume'] : trainArgs, req, prefix)
  if (E.isLeft(trained)) return trained

  // Stage-1 recall along the way, from the checkpoints.
  const curve: Array<[number, number]> = []
  for (const [s, weights] of checkpoints(run)) {
    const file = join(req.out, 'eval', `${m.name}-step-${s}.json`)
    if (!existsSync(file)) {
      const dir = join(req.out, 'models', `${m.name}-step-${s}`)
      const c = await compile(req, config, weights, dir, vocab, prefix)
      if (E.isLeft(c)) return c
      const r = await runCmga(evalArgs(req, m, dir, 0, file), req.log, prefix)
      if (E.isLeft(r)) return r
      rmSync(dir, { recursive: true, force: true })
    }
    curve.push([s, readJson<{ stage1: Recall }>(file).stage1.r_mean])
  }

  // The ITM head's own phase, from the trained weights.
  const trainedWeights = join(run, 'weights.safetensors')
  const head = m.headPhase === true ? await headPhase(req, m, p.head, config, trainedWeights, vocab, prefix) : undefined
  if (head !== undefined && E.isLeft(head)) return head
  const weights = join(finalRun(req.out, m), 'weights.safetensors')

  // The final model, re-ranked.
  const dir = join(req.out, 'models', m.name)
  const c = await compile(req, config, weights, dir, vocab, prefix)
  if (E.isLeft(c)) return c
  const file = join(req.out, 'eval', `${m.name}.json`)
  const ev = await step(file, evalArgs(req, m, dir, m.rerank ? p.k : 0, file), req, prefix)
  if (E.isLeft(ev)) return ev
  const report = readJson<Swept & { rerank_itm?: Recall; rerank_combined?: Recall; confusions?: EvalReport['confusions'] }>(file)
  const contrastFile = join(req.out, 'eval', `${m.name}-contrasts.json`)
  const contrasted = await step(contrastFile, ['eval', 'contrasts', ...evalFlags(req, m, dir, contrastFile)], req, prefix)
  if (E.isLeft(contrasted)) return contrasted
  let validation: WeightChoice | undefined
  let validated: ModelResult['rerank_validated']
  if (m.rerank && p.k > 0) {
    const vFile = join(req.out, 'eval', `${m.name}-validation.json`)
    const v = await step(vFile, validationArgs(req, m, dir, vFile), req, prefix)
    if (E.isLeft(v)) return v
    const vr = readJson<Swept>(vFile)
    validation = { stage1: vr.stage1.r_mean, sweep: (vr.rerank_combined_sweep ?? []).map((x) => ({ weight: x.weight, r_mean: x.recall.r_mean })) }
    const w = chosenWeight(validation)
    const held = report.rerank_combined_sweep?.find((x) => x.weight === w)
    validated = w === undefined || held === undefined ? undefined : { weight: w, recall: held.recall }
  }
  const log = readJson<TrainLog>(join(run, 'log.json'))
  return E.right({
    model: m,
    stage1: report.stage1,
    ...(m.rerank && report.rerank_itm !== undefined ? { rerank_itm: report.rerank_itm } : {}),
    ...(m.rerank && report.rerank_combined !== undefined ? { rerank_combined: report.rerank_combined } : {}),
    contrasts: readJson<ContrastReport>(contrastFile).kinds,
    ...(m.rerank && report.confusions !== undefined ? { confusions: report.confusions } : {}),
    curve,
    stepsPerSecond: log.summary.stepsPerSecond,
    trainSeconds: log.summary.seconds,
    finalLosses: log.summary.final,
    ...(head === undefined ? {} : { head: head.right }),
    ...(validation === undefined ? {} : { validation }),
    ...(validated === undefined ? {} : { rerank_validated: validated })
  })
}

/** What `cmga eval retrieval` writes of stage 1 and the combined rule at each weight of `--itm-weight-sweep`. */
type Swept = { readonly stage1: Recall; readonly rerank_combined_sweep?: ReadonlyArray<{ readonly weight: number; readonly recall: Recall }> }

/** What `cmga train` writes into a run's log.json that the results use. */
interface TrainLog {
  readonly summary: { readonly steps: number; readonly stepsPerSecond: number; readonly seconds: number; readonly final: Record<string, number> }
}

/** Trains the model's ITM head alone from its trained weights (runs/NAME-head), and re-ranks with the weights before it. */
const headPhase = async (req: ReproduceRequest, m: ModelPlan, h: HeadPhase, config: string, trained: string, vocab: string, prefix: string): Promise<E.Either<CmgaError, HeadResult>> => {
  const p = req.plan
  const run = headRun(req.out, m.name)
  const args = [
    'train', '--config', config, '--annotations', join(req.out, 'data/train/annotations.json'), '--images', join(req.out, 'data/train'),
    '--out', run, '--init', trained, '--vocab', vocab, '--steps', String(h.steps), '--batch', String(p.batch), '--lr', String(p.lr), '--seed', String(p.trainSeed),
    '--threads', String(req.threads), ...h.flags
  ]
  const resume = existsSync(run) && !existsSync(join(run, 'weights.safetensors'))
  req.log(`${prefix}the ITM head alone for ${h.steps} steps (the encoders stay as trained)`)
  const trainedHead = await step(join(run, 'weights.safetensors'), resume ? [...args, '--resume'] : args, req, prefix)
  if (E.isLeft(trainedHead)) return trainedHead
  const file = join(req.out, 'eval', `${m.name}-before-head.json`)
  if (!existsSync(file)) {
    const dir = join(req.out, 'models', `${m.name}-before-head`)
    const c = await compile(req, config, trained, dir, vocab, prefix)
    if (E.isLeft(c)) return c
    const r = await runCmga(evalArgs(req, m, dir, p.k, file), req.log, prefix)
    if (E.isLeft(r)) return r
    rmSync(dir, { recursive: true, force: true })
  }
  const before = readJson<HeadResult['before']>(file)
  const log = readJson<TrainLog>(join(run, 'log.json'))
  return E.right({
    steps: log.summary.steps,
    stepsPerSecond: log.summary.stepsPerSecond,
    seconds: log.summary.seconds,
    finalLosses: log.summary.final,
    before: { stage1: before.stage1, ...(before.rerank_itm === undefined ? {} : { rerank_itm: before.rerank_itm }), ...(before.rerank_combined === undefined ? {} : { rerank_combined: before.rerank_combined }) }
  })
}

/** OUT for this plan: new, or an earlier run of the same plan to continue (then true). */
const prepareOut = (req: ReproduceRequest): E.Either<CmgaError, boolean> => {
  const planFile = join(req.out, 'plan.json')
  const plan = JSON.stringify({ plan: req.plan, config: req.config }, null, 1) + '\n'
  if (existsSync(req.out)) {
    const same = existsSync(planFile) && readFileSync(planFile, 'utf8') === plan
    if (same) {
      req.log(`reproduce: continuing the run in ${req.out}`)
      return E.right(true)
    }
    if (!req.force) return fail('usage', `--out ${req.out} already exists (use --force to replace it)${existsSync(planFile) ? '; it holds a run of another plan' : ''}`)
    rmSync(req.out, { recursive: true, force: true })
  }
  mkdirSync(join(req.out, 'configs'), { recursive: true })
  mkdirSync(join(req.out, 'eval'), { recursive: true })
  mkdirSync(join(req.out, 'models'), { recursive: true })
  for (const m of req.plan.models) {
    const w = writeFileAtomic(join(req.out, 'configs', `${m.name}.json`), JSON.stringify(configFor(req.config, m), null, 2) + '\n')
    if (E.isLeft(w)) return w
  }
  return E.map(() => false)(writeFileAtomic(planFile, plan))
}

// -------------------------------------------------------------------------------------
// the whole run
// -------------------------------------------------------------------------------------

/** Runs the plan; the results (also written to OUT). */
export const reproduce = async (req: ReproduceRequest): Promise<E.Either<CmgaError, ReproduceResults>> => {
  const t0 = performance.now()
  const p = req.plan
  const prepared = prepareOut(req)
  if (E.isLeft(prepared)) return prepared
  const S = String(p.size)
  const sets = [['train', p.trainCount, p.trainSeed, false], ['test', p.testCount, p.testSeed, true], ['validation', p.validationCount, p.validationSeed, false]] as const
  for (const [name, count, seed, masks] of sets) {
    const dir = join(req.out, 'data', name)
    const r = await step(join(dir, 'annotations.json'), ['data', 'shapes', '--out', dir, '--count', String(count), '--seed', String(seed), '--size', S, ...(masks ? ['--masks'] : [])], req, `[data ${name}] `)
    if (E.isLeft(r)) return r
  }

  const models: ModelResult[] = []
  for (const m of p.models) {
    const r = await runModel(req, m)
    if (E.isLeft(r)) return r
    models.push(r.right)
  }

  // Vision encoders side by side (every model with compression layers).
  const testSet = readAnnotations(join(req.out, 'data/test/annotations.json'), 'test')
  if (E.isLeft(testSet)) return testSet
  const batch = Math.min(64, testSet.right.images.length)
  const px = await loadImages(testSet.right.images.slice(0, batch).map((image) => join(req.out, 'data/test', image)), p.size, { onError: 'fail' })
  if (E.isLeft(px)) return px
  req.log(`reproduce: timing the vision encoders (${p.timingRounds} alternating rounds, batch ${batch})`)
  const timed = await timeEncoders(p.models.filter((m) => m.compress).map((m) => ({ name: m.name, dir: join(req.out, 'models', m.name) })), 'vision_image', px.right.pixels, p.timingRounds, req.threads)
  if (E.isLeft(timed)) return timed

  // What the first model's compression keeps of the objects.
  const first = compressedModel(p.models, (m) => m)
  let coverage: Coverage | undefined
  if (first !== undefined) {
    req.log(`reproduce: kept object pixels of ${first.name} on ${p.coverageCount} held-out images`)
    const model = loadCmgaModel(join(req.out, 'models', first.name), { threads: req.threads })
    if (E.isLeft(model)) return model
    const cov = await measureCoverage(model.right, join(req.out, 'data/test'), p.coverageCount)
    if (E.isLeft(cov)) return cov
    coverage = cov.right
  }

  const ceiling = recallCeiling(testSet.right)
  const results: ReproduceResults = {
    format: 'cmga-reproduce',
    plan: p,
    machine: { cpu: cpus()[0]?.model ?? 'unknown', cores: cpus().length, node: process.version },
    models,
    timing: { batch, rounds: p.timingRounds, encoders: timed.right },
    ...(coverage === undefined ? {} : { coverage }),
    ...(ceiling === undefined ? {} : { ceiling }),
    seconds: (performance.now() - t0) / 1000,
    ...(prepared.right ? { continued: true as const } : {})
  }
  const png = await chartPng(
    models.map((r) => ({
      label: r.head === undefined ? r.model.label : `${r.model.label} + head phase`,
      stages: { stage1: r.stage1.r_mean, ...(r.rerank_itm === undefined ? {} : { rerank_itm: r.rerank_itm.r_mean }), ...(r.rerank_combined === undefined ? {} : { rerank_combined: r.rerank_combined.r_mean }) },
      curve: r.curve
    })),
    `Shapes world, ${p.testCount} held-out pairs: mean recall (${p.steps} steps x ${p.batch})`
  )
  if (E.isLeft(png)) return png
  for (const [file, data] of [['results.json', JSON.stringify(results, null, 1) + '\n'], ['results.md', resultsMarkdown(results)], ['chart.png', png.right]] as const) {
    const w = writeFileAtomic(join(req.out, file), data)
    if (E.isLeft(w)) return w
  }
  const shipped = shippable(req, results)
  if (E.isLeft(shipped)) return shipped
  req.log(`reproduce: wrote ${join(req.out, 'results.md')}, results.json, chart.png and shipped/ (${(results.seconds / 60).toFixed(1)} min)`)
  return E.right(results)
}

const r1 = (x: number): string => x.toFixed(1)

/**
 * How `cmga retrieve` should rank with a model (`model.json`'s `serving`, compiled into
 * the manifest by `cmga demo`): re-rank the top k by the combined rule at the weight the
 * validation pairs chose, where one beat stage 1 there; else stage 1 alone. None for a
 * model without an ITM head or without a validation measurement.
 */
export const servingOf = (m: ModelResult, k: number, validationCount: number): RankingDefaults | undefined => {
  if (m.validation === undefined || k === 0) return undefined
  const v = m.validation
  const w = chosenWeight(v)
  const best = [...v.sweep].sort((a, b) => b.r_mean - a.r_mean)[0]
  if (w === undefined) {
    const tried = best === undefined ? 'no weight was tried' : `best: ${f2(best.r_mean)} at weight ${best.weight}`
    return { k: 0, why: `on ${validationCount} validation pairs no weight of the combined rule re-ranked above stage 1 (${f2(v.stage1)}; ${tried})` }
  }
  const at = v.sweep.find((x) => x.weight === w)?.r_mean ?? Number.NaN
  return { k, itmWeight: w, why: `the weight whose re-ranking of the top ${k} beat stage 1 most on ${validationCount} validation pairs (${f2(at)} vs ${f2(v.stage1)})` }
}

/**
 * `OUT/shipped/`: the first model with compression below keep rate 1, as `cmga demo`
 * ships it (`models/cmga/shapes/`): config.json, weights.safetensors, vocab.txt and
 * model.json (what it is, how it was trained, its held-out recall).
 */
const shippable = (req: ReproduceRequest, r: ReproduceResults): E.Either<CmgaError, void> => {
  const m = compressedModel(r.models, (x) => x.model)
  if (m === undefined) return E.right(undefined)
  const p = r.plan
  const c = configFor(req.config, m.model)
  const dir = join(req.out, 'shipped')
  mkdirSync(dir, { recursive: true })
  cpSync(join(finalRun(req.out, m.model), 'weights.safetensors'), join(dir, 'weights.safetensors'))
  cpSync(join(req.out, 'data/train/vocab.txt'), join(dir, 'vocab.txt'))
  const rerank =
    m.rerank_validated !== undefined
      ? `; re-ranked top ${p.k} (stage 1 + ${m.rerank_validated.weight} x ITM log-odds, the weight chosen on ${p.validationCount} validation pairs of seed ${p.validationSeed}): ${r1(m.rerank_validated.recall.r_mean)}`
      : m.rerank_combined === undefined ? '' : `; re-ranked top ${p.k} (stage 1 + ${0.1} x ITM log-odds): ${r1(m.rerank_combined.r_mean)}`
  const serving = servingOf(m, p.k, p.validationCount)
  const about = {
    name: `cmga-shapes (${m.model.name})`,
    description:
      `CMGA trained from scratch on the shapes world: ViT ${c.vision.imageSize} px, patch ${c.vision.patchSize}, width ${c.vision.width}, depth ${c.vision.depth}, ` +
      `guided compression at layers ${c.compression.layers.join(' and ')} keeping ${Math.round(100 * c.compression.keepRate)}% of the candidates; ` +
      `BERT width ${c.text.width}, ${c.text.textLayers} text + ${c.text.fusionLayers} fusion layers, ${c.text.vocabSize}-token vocabulary; embeddings of ${c.align.embedDim}`,
    training:
      `cmga reproduce: ${p.steps} steps x ${p.batch} pairs from ${p.trainCount} generated pairs (seed ${p.trainSeed}), lr ${p.lr}, objectives ${m.model.objectives}, ` +
      `${[...p.trainFlags, ...(m.model.trainFlags ?? [])].join(' ')}; ${(m.trainSeconds / 60).toFixed(1)} min` +
      (m.head === undefined ? '' : `; then its ITM head alone, ${m.head.steps} steps: ${p.head.flags.join(' ')}; ${(m.head.seconds / 60).toFixed(1)} min`) +
      ` on ${r.machine.cpu} (${r.machine.cores} cores)`,
    heldOut:
      `${p.testCount} new pairs (seed ${p.testSeed}): stage-1 mean recall ${r1(m.stage1.r_mean)} (R@1 image->text ${r1(m.stage1.txt_r1)}, text->image ${r1(m.stage1.img_r1)})${rerank}`,
    ...(serving === undefined ? {} : { serving })
  }
  return writeFilesAtomic([
    [join(dir, 'config.json'), JSON.stringify(c, null, 2) + '\n'],
    [join(dir, 'model.json'), JSON.stringify(about, null, 2) + '\n']
  ])
}
