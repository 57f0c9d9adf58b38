/**
 * `cmga compile`: config + weights -> a model directory with one ONNX graph per stage
 * (see `deploy.ts`: fused unless asked not to, optionally int8) and a manifest, written
 * atomically (a temporary directory, then one rename).
 * @since 0.1.0
 */
import { existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { basename, dirname, join, resolve } from 'node:path'
import { randomBytes } from 'node:crypto'
import * as E from 'fp-ts/lib/Either.js'
import { pipe } from 'fp-ts/lib/function.js'
import type { CmgaError } from '../../compiler/errors.js'
import { fail, tryBuild } from '../../compiler/errors.js'
import type { Graph } from '../../compiler/ir/graph.js'
import type { HostTensor } from '../../compiler/ir/tensor.js'
import { writeModel } from '../../compiler/emit/model.js'
import { layoutSharedData, writeSharedData } from '../../compiler/emit/shared-data.js'
import { paramsOf } from '../../compiler/ir/graph.js'
import { defaultPasses, runPipeline } from '../../compiler/passes/pipeline.js'
import type { Pass } from '../../compiler/passes/pass.js'
import { compilerVersion } from '../../compiler/version.js'
import type { CmgaConfig } from './config.js'
import type { Stage } from './graphs.js'
import { stageGraph } from './graphs.js'
import type { FusionOptions } from '../../compiler/passes/fusions/index.js'
import { quantizeInt8 } from '../../compiler/quantize/dynamic-int8.js'
import { deployGraphs } from './deploy.js'
import type { Manifest, StageSpec } from './manifest.js'
import { describeGraph } from './manifest.js'

/** The external data file every stage's large weights live in, each once. */
export const DATA_FILE = 'weights.bin'

/** What to compile. */
export interface CompileRequest {
  readonly config: CmgaConfig
  readonly weights: ReadonlyMap<string, HostTensor>
  /** Where the weights came from, and the import summary, for the manifest. */
  readonly weightsSource: string
  readonly weightsSummary: string
  readonly out: string
  /** Passes to run before the fusions (default: the default pipeline). */
  readonly passes?: readonly Pass[]
  /** Run the fusion passes (default true). */
  readonly fuse?: boolean
  readonly fusion?: FusionOptions
  /** `int8`: dynamic int8 quantization of the large matrix products (default `none`). */
  readonly quantize?: 'none' | 'int8'
  /** Called as each stage starts, for progress. */
  readonly onStage?: (stage: string, index: number, count: number) => void
}

/** Per stage: pass statistics, node count and file size. */
export interface CompileReport {
  readonly manifest: Manifest
  readonly stages: Readonly<Record<string, { readonly passes: Record<string, Record<string, number>> }>>
}

/** Builds and optimizes one stage's graph. */
export const buildStage = (c: CmgaConfig, s: Stage, passes: readonly Pass[] = defaultPasses): E.Either<CmgaError, { graph: Graph; stats: Record<string, Record<string, number>> }> =>
  pipe(
    tryBuild(() => stageGraph(c, s)),
    E.map((g) => {
      const r = runPipeline(g, passes)
      return { graph: r.graph, stats: r.stats }
    })
  )

/** Compiles every stage into `req.out`, replacing nothing unless everything succeeded. */
export const compileModel = (req: CompileRequest): E.Either<CmgaError, CompileReport> => {
  const out = resolve(req.out)
  if (existsSync(out)) return fail('io', `output ${req.out} already exists; remove it or choose another --out`)
  const parent = dirname(out)
  if (!existsSync(parent)) return fail('io', `cannot write ${req.out}: directory ${parent} does not exist`)
  const tmp = join(parent, `.${basename(out)}.${randomBytes(6).toString('hex')}.tmp`)
  try {
    mkdirSync(tmp)
  } catch (e) {
    return fail('io', `cannot create ${tmp}: ${(e as Error).message}`)
  }
  const specs: Record<string, StageSpec> = {}
  const reports: Record<string, { passes: Record<string, Record<string, number>> }> = {}
  const built = deployGraphs(req.config, { fuse: req.fuse, fusion: req.fusion, passes: req.passes })
  if (E.isLeft(built)) {
    rmSync(tmp, { recursive: true, force: true })
    return built
  }
  // quantize each stage, then write the weights every stage uses once, then the graphs
  const stages = built.right.map(({ stage, graph, stats }, i) => {
    req.onStage?.(stage, i, built.right.length)
    const q = req.quantize === 'int8' ? quantizeInt8(graph, req.weights) : undefined
    return { stage, graph: q?.graph ?? graph, stats: q === undefined ? stats : { ...stats, quantizeInt8: q.stats }, extra: q?.weights }
  })
  const weights = new Map([...req.weights, ...stages.flatMap((s) => [...(s.extra ?? [])])])
  const used = stages.flatMap((s) => paramsOf(s.graph).map((p) => p.attrs.name)).filter((n) => weights.has(n))
  const shared = layoutSharedData(DATA_FILE, used.map((n) => [n, weights.get(n) as HostTensor] as const))
  const written = writeSharedData(join(tmp, DATA_FILE), shared, weights)
  if (E.isLeft(written)) {
    rmSync(tmp, { recursive: true, force: true })
    return written
  }
  for (const { stage: s, graph, stats } of stages) {
    const file = `${s}.onnx`
    const r = writeModel(join(tmp, file), graph, { weights, sharedData: shared, externalData: { fileName: `${s}.onnx.data` } })
    if (E.isLeft(r)) {
      rmSync(tmp, { recursive: true, force: true })
      return r
    }
    specs[s] = describeGraph(file, graph)
    reports[s] = { passes: stats }
  }
  const manifest: Manifest = {
    format: 'cmga-model',
    formatVersion: 1,
    compiler: { name: 'cmga', version: compilerVersion() },
    config: req.config,
    weights: { source: req.weightsSource, summary: req.weightsSummary },
    quantize: req.quantize ?? 'none',
    stages: specs,
    data: DATA_FILE
  }
  try {
    writeFileSync(join(tmp, 'manifest.json'), JSON.stringify(manifest, null, 2) + '\n')
    renameSync(tmp, out)
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true })
    return fail('io', `cannot write ${req.out}: ${(e as Error).message}`)
  }
  return E.right({ manifest, stages: reports })
}
