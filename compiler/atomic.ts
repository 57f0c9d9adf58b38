/**
 * Atomic file writes: each file goes to a hidden temporary file beside its target, is
 * fsynced, then renamed over the target, so readers see the old file or the whole new
 * one and a failure leaves nothing half-written.
 * @since 0.1.0
 */
import { closeSync, fsyncSync, openSync, renameSync, rmSync, writeSync } from 'node:fs'
import { randomBytes } from 'node:crypto'
import { basename, dirname, join } from 'node:path'
import * as E from 'fp-ts/lib/Either.js'
import type { CmgaError } from './errors.js'
import { fail } from './errors.js'

/** Largest single write (writeSync takes at most 2^31 - 1 bytes). */
const CHUNK = 1 << 30

const reason = (e: unknown): string => (e as NodeJS.ErrnoException).code ?? (e as Error).message

/** A hidden, unique temporary name beside `path`. */
const tempFor = (path: string): string => join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`)

/** Writes all of `bytes` to an open file, in chunks of at most 1 GiB; throws on failure. */
export const writeAll = (fd: number, bytes: Uint8Array): void => {
  for (let at = 0; at < bytes.length; ) at += writeSync(fd, bytes, at, Math.min(bytes.length - at, CHUNK))
}

/** Creates `path` (it must not exist), lets `write` fill it, fsyncs and closes it; throws on failure. */
export const withNewFile = (path: string, write: (fd: number) => void): void => {
  const fd = openSync(path, 'wx')
  try {
    write(fd)
    fsyncSync(fd)
  } finally {
    closeSync(fd)
  }
}

/** Writes `data` to a new file (it must not exist) and fsyncs it; throws on failure. */
export const writeSynced = (path: string, data: Uint8Array | string): void =>
  withNewFile(path, (fd) => writeAll(fd, typeof data === 'string' ? Buffer.from(data, 'utf8') : data))

/** Writes and fsyncs a temporary file beside `path`; returns its name. */
const writeTemp = (path: string, data: Uint8Array | string): E.Either<CmgaError, string> => {
  const tmp = tempFor(path)
  try {
    writeSynced(tmp, data)
    return E.right(tmp)
  } catch (e) {
    rmSync(tmp, { force: true })
    return fail('io', `cannot write ${path}: ${reason(e)}`)
  }
}

/** Flushes a directory entry after a rename, where the platform allows it. */
export const syncDirectory = (dir: string): void => {
  try {
    const fd = openSync(dir, 'r')
    try {
      fsyncSync(fd)
    } finally {
      closeSync(fd)
    }
  } catch {
    // Not supported everywhere (and not needed for correctness of the rename itself).
  }
}

/**
 * Writes several files all or nothing: every temporary file is written first; on a
 * failure all of them are removed and no target is touched (a rename failing midway,
 * which needs a file system fault, may leave the earlier targets replaced).
 */
export const writeFilesAtomic = (files: ReadonlyArray<readonly [string, Uint8Array | string]>): E.Either<CmgaError, void> => {
  const temps: string[] = []
  const cleanup = (): void => temps.forEach((t) => rmSync(t, { force: true }))
  for (const [path, data] of files) {
    const tmp = writeTemp(path, data)
    if (E.isLeft(tmp)) {
      cleanup()
      return tmp
    }
    temps.push(tmp.right)
  }
  for (const [i, [path]] of files.entries()) {
    try {
      renameSync(temps[i], path)
    } catch (e) {
      cleanup()
      return fail('io', `cannot write ${path}: ${reason(e)}`)
    }
  }
  for (const dir of new Set(files.map(([path]) => dirname(path)))) syncDirectory(dir)
  return E.right(undefined)
}

/** Writes one file atomically. */
export const writeFileAtomic = (path: string, data: Uint8Array | string): E.Either<CmgaError, void> => writeFilesAtomic([[path, data]])
