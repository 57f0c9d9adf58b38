/**
 * Training state and checkpoints. A checkpoint is a directory
 * `OUT/checkpoints/step-NNNNNNNN/` holding `weights.safetensors` (every parameter, ALBEF
 * names: `cmga compile --weights` loads it), `optimizer.safetensors` (`adam.step`,
 * `adam.m.<name>`, `adam.v.<name>`) and `trainer.json` (the run's options and history).
 * It is written into a hidden temporary directory, every file fsynced, then renamed
 * into place, and only then is `OUT/checkpoint.json` (which names the latest) replaced
 * atomically: a crash at any point leaves the previous checkpoint intact and named.
 * Old checkpoints are renamed to hidden names before they are deleted, so no visible
 * `step-N` directory is ever partial.
 * @since 0.1.0
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs'
import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import * as E from 'fp-ts/lib/Either.js'
import { syncDirectory, writeFileAtomic, writeSynced } from '../../compiler/atomic.js'
import type { CmgaError } from '../../compiler/errors.js'
import { fail } from '../../compiler/errors.js'
import type { HostTensor } from '../../compiler/ir/tensor.js'
import { zeros } from '../../compiler/ir/tensor.js'
import { trainNames } from '../../compiler/train/adamw.js'
import type { CmgaConfig } from '../../models/cmga/config.js'
import { parameterList } from '../../models/cmga/params.js'
import { encodeSafetensors, readSafetensors } from '../../runtime/safetensors/index.js'

// -------------------------------------------------------------------------------------
// model
// -------------------------------------------------------------------------------------

/** Parameters and AdamW state after `step` updates. */
export interface TrainState {
  readonly step: number
  /** Every parameter of the config, trained or not. */
  readonly params: ReadonlyMap<string, HostTensor<'float32'>>
  /** Moments by parameter name (a parameter without them starts from zeros). */
  readonly m: ReadonlyMap<string, HostTensor<'float32'>>
  readonly v: ReadonlyMap<string, HostTensor<'float32'>>
}

/** `trainer.json`: whatever the driver needs to continue (options, history), as JSON. */
export type RunRecord = { readonly step: number } & Readonly<Record<string, unknown>>

/** Fresh state: the given parameters, zero moments. */
export const initialState = (params: ReadonlyMap<string, HostTensor<'float32'>>): TrainState => ({ step: 0, params, m: new Map(), v: new Map() })

/** A moment of a parameter, or zeros. */
export const momentOf = (moments: ReadonlyMap<string, HostTensor<'float32'>>, name: string, shape: readonly number[]): HostTensor<'float32'> =>
  moments.get(name) ?? zeros('float32', shape)

// -------------------------------------------------------------------------------------
// writing
// -------------------------------------------------------------------------------------

const reason = (e: unknown): string => (e as NodeJS.ErrnoException).code ?? (e as Error).message

/** The directory name of the checkpoint after `step` updates. */
export const checkpointName = (step: number): string => `step-${String(step).padStart(8, '0')}`

/** The weights file's tensors: every parameter, in `parameterList` order. */
export const weightTensors = (c: CmgaConfig, state: TrainState): Map<string, HostTensor> =>
  new Map(parameterList(c).map((p) => [p.name, state.params.get(p.name) ?? zeros('float32', p.shape)]))

/**
 * Writes the checkpoint of `state` under `out` (see the module comment), names it the
 * latest, and deletes all but the newest `keep` checkpoints. Returns its directory.
 */
export const saveCheckpoint = (out: string, c: CmgaConfig, state: TrainState, record: RunRecord, keep = 2): E.Either<CmgaError, string> => {
  const root = join(out, 'checkpoints')
  const name = checkpointName(state.step)
  const tmp = join(root, `.${name}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`)
  const optimizer = new Map<string, HostTensor>([[trainNames.step, { dtype: 'int64', shape: [], data: BigInt64Array.from([BigInt(state.step)]) }]])
  for (const [k, t] of state.m) optimizer.set(trainNames.m(k), t)
  for (const [k, t] of state.v) optimizer.set(trainNames.v(k), t)
  if (!existsSync(join(root, name))) {
    // (an existing one holds this very state: a resumed run that saves again at once)
    try {
      mkdirSync(tmp, { recursive: true })
      writeSynced(join(tmp, 'weights.safetensors'), encodeSafetensors(weightTensors(c, state), { format: 'pt', step: String(state.step) }))
      writeSynced(join(tmp, 'optimizer.safetensors'), encodeSafetensors(optimizer, { step: String(state.step) }))
      writeSynced(join(tmp, 'trainer.json'), JSON.stringify(record) + '\n')
      syncDirectory(tmp)
      renameSync(tmp, join(root, name))
      syncDirectory(root)
    } catch (e) {
      rmSync(tmp, { recursive: true, force: true })
      return fail('io', `cannot write checkpoint ${join(root, name)}: ${reason(e)}`)
    }
  }
  const latest = writeFileAtomic(join(out, 'checkpoint.json'), JSON.stringify({ step: state.step, dir: `checkpoints/${name}` }) + '\n')
  if (E.isLeft(latest)) return latest
  const all = readdirSync(root).filter((d) => /^step-\d{8}$/.test(d)).sort()
  for (const old of all.slice(0, Math.max(0, all.length - keep))) {
    if (old === name) continue
    // renamed out of sight first, so a crash mid-delete leaves no partial step-N directory
    const doomed = join(root, `.${old}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`)
    try {
      renameSync(join(root, old), doomed)
    } catch {
      continue
    }
    rmSync(doomed, { recursive: true, force: true })
  }
  for (const stale of readdirSync(root).filter((d) => d.startsWith('.') && d.endsWith('.tmp') && !d.includes(`.${process.pid}.`))) rmSync(join(root, stale), { recursive: true, force: true })
  return E.right(join(root, name))
}

// -------------------------------------------------------------------------------------
// reading
// -------------------------------------------------------------------------------------

/** Whether `out` holds a checkpoint to resume from. */
export const hasCheckpoint = (out: string): boolean => existsSync(join(out, 'checkpoint.json'))

/** The directory and step of the latest checkpoint under `out`, or null when there is none. */
export const latestCheckpoint = (out: string): { readonly dir: string; readonly step: number } | null => {
  try {
    const latest = JSON.parse(readFileSync(join(out, 'checkpoint.json'), 'utf8')) as { dir: string }
    const step = /step-(\d+)/.exec(latest.dir)
    return { dir: join(out, latest.dir), step: step === null ? NaN : Number(step[1]) }
  } catch {
    return null
  }
}

/** The latest checkpoint under `out`: its state (checked against the config) and record. */
export const loadCheckpoint = (out: string, c: CmgaConfig): E.Either<CmgaError, { state: TrainState; record: RunRecord }> => {
  let dir: string
  let record: RunRecord
  try {
    const latest = JSON.parse(readFileSync(join(out, 'checkpoint.json'), 'utf8')) as { dir: string }
    dir = join(out, latest.dir)
    record = JSON.parse(readFileSync(join(dir, 'trainer.json'), 'utf8')) as RunRecord
  } catch (e) {
    return fail('io', `cannot resume from ${out}: no readable checkpoint (${reason(e)})`)
  }
  const weights = readSafetensors(join(dir, 'weights.safetensors'))
  if (E.isLeft(weights)) return weights
  const opt = readSafetensors(join(dir, 'optimizer.safetensors'))
  if (E.isLeft(opt)) return opt
  const params = new Map<string, HostTensor<'float32'>>()
  const [m, v] = [new Map<string, HostTensor<'float32'>>(), new Map<string, HostTensor<'float32'>>()]
  for (const p of parameterList(c)) {
    const t = weights.right.tensors.get(p.name)
    if (t === undefined || t.dtype !== 'float32' || t.shape.join() !== p.shape.join()) return fail('weights', `${dir}: parameter ${p.name} is missing or not float32 [${p.shape.join(', ')}]; was it written for another config?`)
    params.set(p.name, t as HostTensor<'float32'>)
    for (const [into, key] of [[m, trainNames.m(p.name)], [v, trainNames.v(p.name)]] as const) {
      const s = opt.right.tensors.get(key)
      if (s !== undefined) into.set(p.name, s as HostTensor<'float32'>)
    }
  }
  const step = opt.right.tensors.get(trainNames.step)
  if (step === undefined || step.dtype !== 'int64') return fail('format', `${dir}/optimizer.safetensors: no int64 ${trainNames.step}`)
  return E.right({ state: { step: Number((step.data as BigInt64Array)[0]), params, m, v }, record })
}
