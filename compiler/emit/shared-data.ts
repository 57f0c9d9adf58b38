/**
 * One external data file for several models: each weight is written once, 4096-aligned,
 * and every model that uses it points at the same bytes. A compiled model directory's
 * stages share most of their weights (every vision stage holds the whole ViT), so this
 * keeps each weight once on disk instead of once per stage.
 * @since 0.1.0
 */
import * as E from 'fp-ts/lib/Either.js'
import type { CmgaError } from '../errors.js'
import { cmgaError, fail } from '../errors.js'
import { withNewFile, writeAll } from '../atomic.js'
import type { HostTensor } from '../ir/tensor.js'
import type { ExternalLocation } from './proto.js'
import { rawBytes } from './proto.js'

/** Weights at most this size stay inline in each model. */
export const SHARED_MIN_BYTES = 1024
const ALIGN = 4096

/** Where each shared weight lives in the file `fileName` (relative to the models). */
export interface SharedData {
  readonly fileName: string
  readonly placement: ReadonlyMap<string, ExternalLocation>
}

/** Lays out the weights over `SHARED_MIN_BYTES` (given as name and byte size), in the order given, each name once. */
export const layoutSharedData = (fileName: string, sizes: Iterable<readonly [string, number]>): SharedData => {
  const placement = new Map<string, ExternalLocation>()
  let end = 0
  for (const [name, length] of sizes) {
    if (placement.has(name) || length <= SHARED_MIN_BYTES) continue
    const offset = Math.ceil(end / ALIGN) * ALIGN
    placement.set(name, { location: fileName, offset, length })
    end = offset + length
  }
  return { fileName, placement }
}

/** The weights of a map as a byte source for `writeSharedData`. */
export const bytesFrom =
  (weights: ReadonlyMap<string, HostTensor>) =>
  (name: string): Uint8Array | undefined => {
    const t = weights.get(name)
    return t === undefined ? undefined : rawBytes(t)
  }

/**
 * Writes the shared file at `path` (which must not exist), asking `bytesOf` for each
 * placed weight in turn (its bytes are written before the next is asked for, so a source
 * may reuse one buffer), and fsyncs it.
 */
export const writeSharedData = (path: string, data: SharedData, bytesOf: (name: string) => Uint8Array | undefined): E.Either<CmgaError, void> => {
  const pad = new Uint8Array(ALIGN)
  let problem: CmgaError | null = null
  try {
    withNewFile(path, (fd) => {
      let at = 0
      for (const [name, place] of data.placement) {
        const bytes = bytesOf(name)
        if (bytes === undefined) return void (problem = cmgaError('weights', `shared data: no value for "${name}"`))
        if (bytes.byteLength !== place.length) return void (problem = cmgaError('weights', `shared data: "${name}" is ${bytes.byteLength} bytes, laid out as ${place.length}`))
        writeAll(fd, pad.subarray(0, place.offset - at))
        writeAll(fd, bytes)
        at = place.offset + bytes.byteLength
      }
    })
  } catch (e) {
    return fail('io', `cannot write ${path}: ${(e as Error).message}`)
  }
  return problem === null ? E.right(undefined) : E.left(problem)
}
