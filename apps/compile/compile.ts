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
import { rawBytes } from '../../compiler/emit/proto.js'
import { zeros } from '../../compiler/ir/tensor.js'
import { paramsOf } from '../../compiler/ir/graph.js'
import { defaultPasses, runPipeline } from '../../compiler/passes/pipeline.js'
import type { Pass, PassStats } from '../../compiler/passes/pass.js'
import { compilerVersion } from '../../compiler/version.js'
import type { CmgaConfig } from '../../models/cmga/config.js'
import type { Stage } from '../../models/cmga/graphs.js'
import { stageGraph } from '../../models/cmga/graphs.js'
import type { FusionOptions } from '../../compiler/passes/fusions/index.js'
import { MIN_ELEMENTS, quantizeInt8 } from '../../compiler/quantize/dynamic-int8.js'
import type { Derived } from '../../compiler/weights/fold-transposes.js'
import { foldParamTransposes, transposeTensor } from '../../compiler/weights/fold-transposes.js'
import { deployGraphs } from './deploy.js'
import type { Manifest, RankingDefaults, StageSpec } from '../../runtime/model/manifest.js'
import { describeGraph } from '../../runtime/model/manifest.js'

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
  /** With `int8`: weights with fewer elements stay float32 (default MIN_ELEMENTS). */
  readonly int8MinElements?: number
  /** Called as each stage starts, for progress. */
  readonly onStage?: (stage: string, index: number, count: number) => void
  /** Replace an existing `out` (only once the new one is complete). */
  readonly force?: boolean
  /** More files to write into the model directory (name, contents), e.g. `vocab.txt`. */
  readonly files?: ReadonlyArray<readonly [string, Uint8Array | string]>
  /** How `cmga retrieve` ranks with the model unless told otherwise (the manifest's `ranking`). */
  readonly ranking?: RankingDefaults
}

/** Per stage: pass statistics, node count and file size. */
export interface CompileReport {
  readonly manifest: Manifest
  readonly stages: Readonly<Record<string, { readonly passes: Readonly<Record<string, PassStats>> }>>
}

/** Builds and optimizes one stage's graph. */
export const buildStage = (c: CmgaConfig, s: Stage, passes: readonly Pass[] = defaultPasses): E.Either<CmgaError, { graph: Graph; stats: Readonly<Record<string, PassStats>> }> =>
  pipe(
    tryBuild(() => stageGraph(c, s)),
    E.map((g) => {
      const r = runPipeline(g, passes)
      return { graph: r.graph, stats: r.stats }
    })
  )

/**
 * Bytes of a weight for the shared file: a given one as is, a derived (transposed) one
 * made in a scratch tensor reused from one weight to the next, so the transposed copies
 * never sit in memory together.
 */
const transposedBytes = (base: ReadonlyMap<string, HostTensor>, derived: ReadonlyMap<string, Derived>): ((name: string) => Uint8Array | undefined) => {
  const scratch = new Map<string, HostTensor>() // per dtype: the largest buffer so far
  return (name) => {
    const t = base.get(name)
    if (t !== undefined) return rawBytes(t)
    const d = derived.get(name)
    const src = d === undefined ? undefined : base.get(d.from)
    if (d === undefined || src === undefined) return undefined
    const n = src.data.length
    const have = scratch.get(src.dtype)
    const buf = have !== undefined && have.data.length >= n ? have : zeros(src.dtype, [n])
    scratch.set(src.dtype, buf)
    const shape = d.perm.map((p) => src.shape[p])
    const out = { dtype: src.dtype, shape, data: (buf.data as Float32Array).subarray(0, n) } as HostTensor
    return rawBytes(transposeTensor(src, d.perm, out))
  }
}

/** Renames the complete directory `tmp` to `out`, moving an existing `out` aside first and removing it after. */
export const replaceDirectory = (tmp: string, out: string): void => {
  const old = existsSync(out) ? `${tmp}.old` : null
  if (old !== null) renameSync(out, old)
  renameSync(tmp, out)
  if (old !== null) rmSync(old, { recursive: true, force: true })
}

/** Compiles every stage into `req.out`, replacing nothing unless everything succeeded. */
export const compileModel = (req: CompileRequest): E.Either<CmgaError, CompileReport> => {
  const out = resolve(req.out)
  if (existsSync(out) && req.force !== true) return fail('usage', `--out ${req.out} already exists (use --force to replace it)`)
  const parent = dirname(out)
  if (!existsSync(parent)) return fail('io', `cannot write ${req.out}: directory ${parent} does not exist`)
  const tmp = join(parent, `.${basename(out)}.${randomBytes(6).toString('hex')}.tmp`)
  try {
    mkdirSync(tmp)
  } catch (e) {
    return fail('io', `cannot create ${tmp}: ${(e as Error).message}`)
  }
  const specs: Record<string, StageSpec> = {}
  const reports: Record<string, { passes: Readonly<Record<string, PassStats>> }> = {}
  const built = deployGraphs(req.config, { fuse: req.fuse, fusion: req.fusion, passes: req.passes })
  if (E.isLeft(built)) {
    rmSync(tmp, { recursive: true, force: true })
    return built
  }
  // quantize each stage, fold its weight transposes, then write every weight the stages
  // use once (transposed ones made one at a time, straight into the file), then the graphs
  const int8 = new Map<string, HostTensor>() // shared by the stages: each weight quantized once
  const minElements = req.int8MinElements ?? MIN_ELEMENTS
  const stages = built.right.map(({ stage, graph, stats }, i) => {
    req.onStage?.(stage, i, built.right.length)
    const q = req.quantize === 'int8' ? quantizeInt8(graph, req.weights, { cache: int8, minElements }) : undefined
    const t = foldParamTransposes(q?.graph ?? graph, q === undefined ? req.weights : new Map([...req.weights, ...q.weights]))
    const passes = { ...stats, ...(q === undefined ? {} : { quantizeInt8: q.stats }), foldParamTransposes: t.stats }
    return { stage, graph: t.graph, stats: passes, derived: t.derived }
  })
  if (req.quantize === 'int8' && stages.every((s) => (s.stats.quantizeInt8?.fired.matmul ?? 0) === 0)) {
    rmSync(tmp, { recursive: true, force: true })
    return fail('usage', `--quantize int8: no matrix product of this model qualifies (int8 takes weights of at least ${minElements} elements${minElements === MIN_ELEMENTS ? '' : ' (--int8-min-elements)'}; this config has none), so nothing would be quantized: compile it without --quantize, or lower --int8-min-elements`)
  }
  const base = new Map([...req.weights, ...int8])
  const derived = new Map(stages.flatMap((s) => [...s.derived]))
  const byteLength = (name: string): number | undefined => {
    const t = base.get(name) ?? base.get(derived.get(name)?.from ?? '')
    return t === undefined ? undefined : rawBytes(t).byteLength
  }
  const used = stages.flatMap((s) => paramsOf(s.graph).map((p) => p.attrs.name)).filter((n) => byteLength(n) !== undefined)
  const shared = layoutSharedData(DATA_FILE, used.map((n) => [n, byteLength(n) as number] as const))
  const written = writeSharedData(join(tmp, DATA_FILE), shared, transposedBytes(base, derived))
  if (E.isLeft(written)) {
    rmSync(tmp, { recursive: true, force: true })
    return written
  }
  // the small derived weights (under the shared file's threshold) stay inline in the graphs
  const weights = new Map([...base, ...[...derived].filter(([n]) => !shared.placement.has(n)).map(([n, d]) => [n, transposeTensor(base.get(d.from) as HostTensor, d.perm)] as const)])
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
    data: DATA_FILE,
    ...(req.ranking === undefined ? {} : { ranking: req.ranking })
  }
  try {
    for (const [name, data] of req.files ?? []) writeFileSync(join(tmp, name), data)
    writeFileSync(join(tmp, 'manifest.json'), JSON.stringify(manifest, null, 2) + '\n')
    replaceDirectory(tmp, out)
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true })
    return fail('io', `cannot write ${req.out}: ${(e as Error).message}`)
  }
  return E.right({ manifest, stages: reports })
}
