/**
 * A compiled model directory, loaded: its manifest and one onnxruntime session per
 * stage, opened on first use.
 * @since 0.1.0
 */
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import * as E from 'fp-ts/lib/Either.js'
import * as TE from 'fp-ts/lib/TaskEither.js'
import { pipe } from 'fp-ts/lib/function.js'
import type { CmgaError } from '../../compiler/errors.js'
import { fail } from '../../compiler/errors.js'
import type { HostTensor } from '../../compiler/ir/tensor.js'
import type { Manifest } from './manifest.js'
import { decodeManifest } from './manifest.js'
import type { Session, SessionOptions } from '../session.js'
import { deviceProblem } from '../device.js'
import { openSession } from '../session.js'

/** A loaded model directory. */
export interface CompiledModel {
  readonly dir: string
  readonly manifest: Manifest
  /** Runs one stage (opening its session on first use); feeds the stage does not declare are ignored. */
  readonly run: (stage: string, feeds: Readonly<Record<string, HostTensor>>) => TE.TaskEither<CmgaError, Record<string, HostTensor>>
  /** Whether the directory has a stage. */
  readonly has: (stage: string) => boolean
  /**
   * Waits for the runs in flight, then releases every session (native memory is freed
   * now, not at garbage collection); a run after it is a Left of kind 'runtime'.
   */
  readonly close: () => Promise<void>
}

/** Reads and checks `DIR/manifest.json`. */
export const readManifest = (dir: string): E.Either<CmgaError, Manifest> => {
  const path = join(dir, 'manifest.json')
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (e) {
    return fail('io', `${dir} is not a compiled model directory: cannot read ${path} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`)
  }
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch (e) {
    return fail('format', `${path}: not valid JSON (${(e as Error).message})`)
  }
  return E.chain((m: Manifest) =>
    m.data !== undefined && !existsSync(join(dir, m.data)) ? fail<Manifest>('input', `model ${dir}: its weights file ${m.data} is missing (copy the whole model directory)`) : E.right(m)
  )(decodeManifest(json, path))
}

/** Loads a model directory; sessions open lazily and are reused. */
export const loadModel = (dir: string, opts: SessionOptions = {}): E.Either<CmgaError, CompiledModel> => {
  const problem = deviceProblem(opts.device ?? 'cpu')
  if (problem !== null) return fail('usage', `--device ${opts.device ?? 'cpu'}: ${problem}`)
  return E.map((manifest: Manifest): CompiledModel => {
    const sessions = new Map<string, Promise<E.Either<CmgaError, Session>>>()
    const session = (stage: string): TE.TaskEither<CmgaError, Session> => () => {
      let s = sessions.get(stage)
      if (s === undefined) {
        const spec = manifest.stages[stage]
        s = spec === undefined ? Promise.resolve(fail<Session>('input', `model ${dir} has no stage "${stage}"`)) : openSession(join(dir, spec.file), opts)()
        sessions.set(stage, s)
      }
      return s
    }
    const inFlight = new Set<Promise<unknown>>()
    let closed = false
    return {
      dir,
      manifest,
      has: (stage: string) => manifest.stages[stage] !== undefined,
      // Passes may drop inputs a stage turned out not to need (e.g. `text_cls` when
      // imageWeight is 1), so each session gets only the feeds its graph declares.
      run: (stage, feeds) => () => {
        if (closed) return Promise.resolve(fail('runtime', `model ${dir} was closed`))
        const p = pipe(
          session(stage),
          TE.chain((s) => s.run(Object.fromEntries(Object.entries(feeds).filter(([name]) => s.inputNames.includes(name)))))
        )()
        inFlight.add(p)
        void p.finally(() => inFlight.delete(p))
        return p
      },
      close: async () => {
        closed = true
        while (inFlight.size > 0) await Promise.allSettled([...inFlight])
        for (const s of sessions.values()) {
          const r = await s
          if (E.isRight(r)) await r.right.release()()
        }
        sessions.clear()
      }
    }
  })(readManifest(dir))
}
