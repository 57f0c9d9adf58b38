/**
 * Checkpoint import (spec section 2): ALBEF names from safetensors or from a PyTorch
 * checkpoint (`.pth`, as ALBEF releases them), validated against the parameters a
 * config declares.
 * @since 0.1.0
 */
import * as E from 'fp-ts/lib/Either.js'
import type { CmgaError } from '../../compiler/errors.js'
import { fail } from '../../compiler/errors.js'
import type { HostTensor } from '../../compiler/ir/tensor.js'
import { closeSync, openSync, readSync } from 'node:fs'
import { readSafetensors } from '../../runtime/safetensors/index.js'
import { looksLikeTorch, readTorchCheckpoint } from '../../runtime/torch/read.js'
import type { CmgaConfig } from '../../models/cmga/config.js'
import { parameterList } from '../../models/cmga/params.js'
import { gridSide, interpolatePosEmbed } from '../../models/cmga/pos-embed.js'

// -------------------------------------------------------------------------------------
// model
// -------------------------------------------------------------------------------------

/** What a checkpoint must hold: inference needs no MLM head or temperature. */
export type Purpose = 'inference' | 'training'

/** Weights by parameter name, and what the import did. */
export interface Checkpoint {
  readonly weights: ReadonlyMap<string, HostTensor<'float32'>>
  readonly summary: {
    readonly loaded: number
    readonly values: number
    readonly ignored: readonly string[]
    readonly renamed: number
    /** Position embeddings resized to the config's grid, as `name: 16x16 -> 14x14`. */
    readonly interpolated: readonly string[]
  }
}

/** Parameters only the training objectives use. */
export const trainingOnly = (name: string): boolean => name === 'temp' || name.startsWith('text_encoder.cls.predictions.')

/** Entries that real ALBEF checkpoints carry and no graph uses. */
const ignorable = (name: string): boolean =>
  /(^|\.)[a-z_]+_m(\.|$)/.test(name) || // momentum copies: visual_encoder_m.*, vision_proj_m.*
  /_queue$|^queue_ptr$/.test(name) ||
  name.endsWith('position_ids') ||
  name.startsWith('text_encoder.cls.predictions.decoder.')

/** `text_encoder.bert.x` (pre-training checkpoints) -> `text_encoder.x`. */
const canonical = (name: string): string => name.replace(/^text_encoder\.bert\./, 'text_encoder.')

// -------------------------------------------------------------------------------------
// import
// -------------------------------------------------------------------------------------

/**
 * A checkpoint's `visual_encoder.pos_embed` for another square grid (a checkpoint
 * trained at another image size), resized to the config's as ALBEF does; null when the
 * tensor is anything else.
 */
const resizedPosEmbed = (name: string, want: readonly (number | string)[], t: HostTensor): HostTensor<'float32'> | null => {
  if (name !== 'visual_encoder.pos_embed' || t.shape.length !== 3 || t.shape[0] !== 1 || t.shape[2] !== want[2] || t.shape[1] === want[1]) return null
  if (gridSide(t.shape[1]) === null || gridSide(want[1] as number) === null || (t.dtype !== 'float32' && t.dtype !== 'float64')) return null
  const f32: HostTensor<'float32'> = t.dtype === 'float32' ? (t as HostTensor<'float32'>) : { dtype: 'float32', shape: t.shape, data: Float32Array.from(t.data as Float64Array) }
  return interpolatePosEmbed(f32, gridSide(want[1] as number) as number)
}

/** Matches named tensors against the config's parameters; every problem in one error. */
export const matchCheckpoint = (
  c: CmgaConfig,
  tensors: ReadonlyMap<string, HostTensor>,
  source: string,
  purpose: Purpose = 'inference',
  unread: readonly string[] = []
): E.Either<CmgaError, Checkpoint> => {
  const byName = new Map<string, HostTensor>()
  const ignored: string[] = [...unread]
  let renamed = 0
  for (const [raw, t] of tensors) {
    const name = canonical(raw)
    if (name !== raw) renamed++
    if (ignorable(raw)) ignored.push(raw)
    else byName.set(name, t)
  }
  const weights = new Map<string, HostTensor<'float32'>>()
  const interpolated: string[] = []
  const missing: string[] = []
  const misshaped: string[] = []
  const wrongType: string[] = []
  let values = 0
  for (const p of parameterList(c)) {
    const t = byName.get(p.name)
    byName.delete(p.name)
    if (t === undefined) {
      if (purpose === 'training' || !trainingOnly(p.name)) missing.push(p.name)
      continue
    }
    const scalarAsVector = p.shape.length === 0 && t.shape.length === 1 && t.shape[0] === 1 // `temp` saved as [1]
    const resized = resizedPosEmbed(p.name, p.shape, t)
    if (resized !== null) {
      weights.set(p.name, resized)
      values += resized.data.length
      interpolated.push(`${p.name}: ${gridSide(t.shape[1])}x${gridSide(t.shape[1])} -> ${gridSide(p.shape[1] as number)}x${gridSide(p.shape[1] as number)}`)
    } else if (scalarAsVector) {
      weights.set(p.name, { ...(t as HostTensor<'float32'>), shape: [] })
      values += 1
    } else if (t.shape.length !== p.shape.length || t.shape.some((d, i) => d !== p.shape[i])) {
      misshaped.push(`${p.name} is [${t.shape.join(', ')}], expected [${p.shape.join(', ')}]`)
    } else if (t.dtype === 'float64') {
      weights.set(p.name, { dtype: 'float32', shape: t.shape, data: Float32Array.from(t.data as Float64Array) })
      values += t.data.length
    } else if (t.dtype !== 'float32') {
      wrongType.push(`${p.name} is ${t.dtype}, expected a float type`)
    } else {
      weights.set(p.name, t as HostTensor<'float32'>)
      values += t.data.length
    }
  }
  ignored.push(...byName.keys())
  const problems = [
    missing.length > 0
      ? `missing ${missing.length} parameter(s): ${missing.join(', ')}` +
        (missing.every((n) => n.startsWith('vqa_head.')) ? ' (the config has a VQA head this checkpoint lacks: drop its "vqa" section, e.g. use models/cmga/configs/base-retrieval.json)' : '')
      : '',
    misshaped.length > 0 ? `mis-shaped: ${misshaped.join('; ')}` : '',
    wrongType.length > 0 ? `wrong dtype: ${wrongType.join('; ')}` : ''
  ].filter((s) => s !== '')
  if (problems.length > 0) return fail('weights', `${source}: ${problems.join('; ')}`)
  return E.right({ weights, summary: { loaded: weights.size, values, ignored, renamed, interpolated } })
}

/** The first bytes of a file (fewer when it is shorter; none when it cannot be read). */
const head = (path: string): Uint8Array => {
  const b = new Uint8Array(8)
  try {
    const fd = openSync(path, 'r')
    try {
      return b.subarray(0, readSync(fd, b, 0, 8, 0))
    } finally {
      closeSync(fd)
    }
  } catch {
    return new Uint8Array(0)
  }
}

/** A weights file's named tensors, and the names it holds but was not asked to read. */
export interface WeightsFile {
  readonly tensors: ReadonlyMap<string, HostTensor>
  readonly skipped: readonly string[]
}

/**
 * The named tensors of a weights file: a PyTorch checkpoint (told by its first bytes;
 * entries no graph uses, such as momentum copies and queues, are not read) or safetensors.
 */
export const readWeightsFile = (path: string): E.Either<CmgaError, WeightsFile> =>
  looksLikeTorch(head(path)) ? readTorchCheckpoint(path, (name) => !ignorable(name)) : E.map((f: { tensors: ReadonlyMap<string, HostTensor> }) => ({ tensors: f.tensors, skipped: [] }))(readSafetensors(path))

/** Reads and matches a checkpoint (safetensors or PyTorch). */
export const importCheckpoint = (c: CmgaConfig, path: string, purpose: Purpose = 'inference'): E.Either<CmgaError, Checkpoint> =>
  E.chain((f: WeightsFile) => matchCheckpoint(c, f.tensors, path, purpose, f.skipped))(readWeightsFile(path))

/** One line for the CLI. */
export const describeCheckpoint = (ck: Checkpoint): string =>
  `loaded ${ck.summary.loaded} parameters (${(ck.summary.values / 1e6).toFixed(2)}M values)` +
  (ck.summary.renamed > 0 ? `, ${ck.summary.renamed} renamed from text_encoder.bert.*` : '') +
  (ck.summary.ignored.length > 0 ? `, ignored ${ck.summary.ignored.length} entries (momentum copies, queues, position_ids, unused)` : '') +
  (ck.summary.interpolated.length > 0 ? `; interpolated (bicubic, as ALBEF) ${ck.summary.interpolated.join(', ')}` : '')
