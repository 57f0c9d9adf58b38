/**
 * The vision encoders of the compared models, timed side by side: one process, one
 * batch of held-out images, the sessions run in alternating rounds (A, B, A, B, ...),
 * so load on the machine falls on both alike. Reports each one's median per batch.
 * @since 0.1.0
 */
import { join } from 'node:path'
import * as E from 'fp-ts/lib/Either.js'
import type { CmgaError } from '../../compiler/errors.js'
import type { HostTensor } from '../../compiler/ir/tensor.js'
import type { Session } from '../../runtime/session.js'
import { openSession } from '../../runtime/session.js'

/** One encoder's timing. */
export interface EncoderTiming {
  readonly name: string
  /** Median milliseconds per batch. */
  readonly ms: number
  /** Images per second at that median. */
  readonly imagesPerSecond: number
}

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length % 2 === 1 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2
}

/**
 * Times `stage` (e.g. `vision_image.onnx`) of each model directory on `pixels`
 * [B, 3, S, S]: one warm-up run each, then `rounds` alternating rounds.
 */
export const timeEncoders = async (
  models: ReadonlyArray<{ readonly name: string; readonly dir: string }>,
  stage: string,
  pixels: HostTensor<'float32'>,
  rounds: number,
  threads = 2
): Promise<E.Either<CmgaError, EncoderTiming[]>> => {
  const sessions: Session[] = []
  try {
    for (const m of models) {
      const s = await openSession(join(m.dir, `${stage}.onnx`), { threads })()
      if (E.isLeft(s)) return s
      sessions.push(s.right)
    }
    const fetch = (s: Session): string[] => [s.outputNames[0]]
    for (const s of sessions) {
      const r = await s.run({ pixels }, fetch(s))()
      if (E.isLeft(r)) return r
    }
    const times: number[][] = models.map(() => [])
    for (let round = 0; round < rounds; round++) {
      for (const [i, s] of sessions.entries()) {
        const t0 = performance.now()
        const r = await s.run({ pixels }, fetch(s))()
        if (E.isLeft(r)) return r
        times[i].push(performance.now() - t0)
      }
    }
    const B = pixels.shape[0]
    return E.right(models.map((m, i) => ({ name: m.name, ms: median(times[i]), imagesPerSecond: (1000 * B) / median(times[i]) })))
  } finally {
    for (const s of sessions) await s.release()()
  }
}
