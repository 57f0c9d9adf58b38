/**
 * A compiled model's identity, for files made with it (a gallery index): a hash of its
 * manifest (config, weights source, compiler version, quantization, stage signatures)
 * and of every graph and weights file (size plus the first, middle and last MiB, so a
 * base model is identified in milliseconds, and different weights in the same file
 * name are still told apart).
 * @since 0.1.0
 */
import { closeSync, existsSync, openSync, readFileSync, readSync, statSync } from 'node:fs'
import { createHash } from 'node:crypto'
import { join, resolve } from 'node:path'
import * as E from 'fp-ts/lib/Either.js'
import type { CmgaError } from '../../compiler/errors.js'
import { fail } from '../../compiler/errors.js'
import type { Manifest } from './manifest.js'

/** Who built something: enough to say which model it was in a message. */
export interface ModelIdentity {
  /** sha256 hex of the manifest and the sampled files. */
  readonly fingerprint: string
  /** The model directory (absolute). */
  readonly dir: string
  /** The manifest's weights source (a checkpoint path or `random-init:SEED`). */
  readonly weights: string
  readonly quantize: string
}

const MiB = 1 << 20

const sample = (hash: ReturnType<typeof createHash>, path: string): void => {
  const size = statSync(path).size
  hash.update(`${path.split('/').pop()}:${size};`)
  const fd = openSync(path, 'r')
  try {
    const starts = size <= 3 * MiB ? [0] : [0, Math.floor(size / 2) - MiB / 2, size - MiB]
    const buf = Buffer.alloc(Math.min(size, size <= 3 * MiB ? size : MiB))
    for (const s of starts) hash.update(buf.subarray(0, readSync(fd, buf, 0, buf.length, s)))
  } finally {
    closeSync(fd)
  }
}

/** The identity of the model in `dir` (whose manifest is `manifest`). */
export const modelIdentity = (dir: string, manifest: Manifest): E.Either<CmgaError, ModelIdentity> => {
  try {
    const hash = createHash('sha256')
    hash.update(readFileSync(join(dir, 'manifest.json')))
    for (const stage of Object.keys(manifest.stages).sort()) {
      const file = join(dir, manifest.stages[stage].file)
      sample(hash, file)
      if (existsSync(`${file}.data`)) sample(hash, `${file}.data`)
    }
    if (manifest.data !== undefined) sample(hash, join(dir, manifest.data))
    return E.right({ fingerprint: hash.digest('hex'), dir: resolve(dir), weights: manifest.weights.source, quantize: manifest.quantize })
  } catch (e) {
    return fail('io', `cannot read model ${dir}: ${(e as Error).message}`)
  }
}

/** One line naming a model, for messages. */
export const describeModel = (m: ModelIdentity): string => `${m.dir} (weights ${m.weights}${m.quantize === 'none' ? '' : `, ${m.quantize}`}, fingerprint ${m.fingerprint.slice(0, 12)})`
