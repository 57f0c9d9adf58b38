/**
 * What a compiled model directory holds, for `cmga inspect`: its identity, and per
 * stage the graph's inputs and outputs, operator counts (contrib ops by domain) and the
 * weights it carries inline or points to in the shared data file.
 * @since 0.1.0
 */
import { readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import * as E from 'fp-ts/lib/Either.js'
import type { CmgaError } from '../../compiler/errors.js'
import { fail } from '../../compiler/errors.js'
import { onnx } from '../../compiler/emit/proto.js'
import type { RankingDefaults, StageSpec } from '../../runtime/model/manifest.js'
import type { ModelIdentity } from '../../runtime/model/fingerprint.js'
import { modelIdentity } from '../../runtime/model/fingerprint.js'
import { readManifest } from '../../runtime/model/model.js'

/** One stage, as its ONNX file says. */
export interface StageInfo extends StageSpec {
  readonly bytes: number
  readonly nodes: number
  /** Node count per operator, `domain.Op` for contrib ops, most frequent first. */
  readonly ops: Readonly<Record<string, number>>
  readonly opsets: Readonly<Record<string, number>>
  /** Weight tensors and bytes: inline in the file, and in external data. */
  readonly weights: { readonly inline: number; readonly inlineBytes: number; readonly external: number; readonly externalBytes: number }
}

/** The whole model directory. */
export interface ModelInfo {
  readonly identity: ModelIdentity
  readonly compiler: string
  readonly quantize: string
  readonly data: { readonly file: string; readonly bytes: number } | null
  /** The manifest's ranking defaults (`cmga compile --serve-k`), or null. */
  readonly ranking: RankingDefaults | null
  readonly stages: Readonly<Record<string, StageInfo>>
}

const stageInfo = (dir: string, spec: StageSpec): StageInfo => {
  const path = join(dir, spec.file)
  const bytes = readFileSync(path)
  const m = onnx.ModelProto.decode(bytes)
  const counts = new Map<string, number>()
  for (const n of m.graph?.node ?? []) {
    const op = n.domain !== undefined && n.domain !== null && n.domain !== '' ? `${n.domain}.${n.opType}` : String(n.opType)
    counts.set(op, (counts.get(op) ?? 0) + 1)
  }
  const weights = { inline: 0, inlineBytes: 0, external: 0, externalBytes: 0 }
  for (const t of m.graph?.initializer ?? []) {
    if (t.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL) {
      weights.external++
      weights.externalBytes += Number((t.externalData ?? []).find((e) => e.key === 'length')?.value ?? 0)
    } else {
      weights.inline++
      weights.inlineBytes += t.rawData?.byteLength ?? 0
    }
  }
  return {
    ...spec,
    bytes: bytes.byteLength,
    nodes: m.graph?.node?.length ?? 0,
    ops: Object.fromEntries([...counts].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))),
    opsets: Object.fromEntries((m.opsetImport ?? []).map((o) => [o.domain === '' || o.domain === undefined || o.domain === null ? 'ai.onnx' : o.domain, Number(o.version)])),
    weights
  }
}

/** Reads a model directory's manifest and every stage file. */
export const inspectModel = (dir: string): E.Either<CmgaError, ModelInfo> =>
  E.chain((manifest: Parameters<typeof modelIdentity>[1]) =>
    E.chain((identity: ModelIdentity) => {
      try {
        const stages = Object.fromEntries(Object.entries(manifest.stages).map(([name, spec]) => [name, stageInfo(dir, spec)]))
        const data = manifest.data === undefined ? null : { file: manifest.data, bytes: statSync(join(dir, manifest.data)).size }
        return E.right({ identity, compiler: `${manifest.compiler.name} ${manifest.compiler.version}`, quantize: manifest.quantize, data, ranking: manifest.ranking ?? null, stages })
      } catch (e) {
        return fail<ModelInfo>('format', `${dir}: cannot read a stage graph: ${(e as Error).message}`)
      }
    })(modelIdentity(dir, manifest))
  )(readManifest(dir))
