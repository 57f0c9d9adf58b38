/**
 * `cmga match`: how well each image matches each text: the global and local scores
 * (spec section 7), their sum, and the ITM verdict under joint guidance.
 * @since 0.1.0
 */
import * as E from 'fp-ts/lib/Either.js'
import * as TE from 'fp-ts/lib/TaskEither.js'
import { pipe } from 'fp-ts/lib/function.js'
import type { CmgaError } from '../../compiler/errors.js'
import type { Match } from '../../apps/cmga/rank.js'
import type { Runtime, Scores } from '../../apps/cmga/runtime.js'
import { stage1 } from '../../apps/cmga/runtime.js'
import { loadImages } from '../../runtime/images/index.js'
import type { Command, Values } from '../command.js'
import { outputFlag } from '../command.js'
import { imageList, textList } from '../lists.js'
import { jsonOutHelp, runtimeFlags, runtimeFrom, runtimeHelp, withRuntime, writeResult } from '../runtime-flags.js'

const help = `Usage: cmga match --model DIR (--image FILE ... | --images-from F) (--text "..." ... | --texts-from FILE)

Scores every image against every text and prints JSON (or writes it to --out): per
pair the global score (image [CLS] vs text [CLS]), the local (token-level) score,
their sum (the stage-1 score of retrieval), and the ITM verdict of the relation
module under joint guidance: probability and log-odds that the pair matches.

  --image FILE         an image (JPEG, PNG, WebP, ...); repeat for more
  --images-from F      a file with one image path a line, or a folder (every image in it
                       and its subfolders, sorted); with or instead of --image
  --text TEXT          a text; repeat for more
  --texts-from FILE    texts, one a line (- reads standard input): for many or long
                       texts (one argument is at most 128 KB); with or instead of --text
${jsonOutHelp}
${runtimeHelp()}
  -h, --help           this text`

/** One image-text pair's scores. */
export interface PairScores {
  readonly image: string
  readonly text: string
  readonly global: number
  readonly local: number
  readonly stage1: number
  readonly itm: Match
}

/** Every image against every text, images outer. */
export const matchAll = (rt: Runtime, images: readonly string[], texts: readonly string[]): TE.TaskEither<CmgaError, PairScores[]> =>
  pipe(
    TE.Do,
    TE.bind('px', () => () => loadImages(images, rt.config.vision.imageSize, { onError: 'fail' })),
    TE.bind('tf', () => rt.encodeTexts(texts)),
    TE.bind('scores', ({ px, tf }) => TE.chain((img: Parameters<Runtime['score']>[0]) => rt.score(img, tf))(rt.encodeImages(px.pixels))),
    TE.bind('itm', ({ px, tf }) => rt.match(px.pixels, tf, images.flatMap((_, i) => texts.map((_, j) => [i, j] as const)))),
    TE.map(({ scores, itm }) =>
      images.flatMap((image, i) =>
        texts.map((text, j): PairScores => ({ image, text, global: at(scores, 'global', i, j), local: at(scores, 'local', i, j), stage1: stage1(scores, i, j), itm: itm[i * texts.length + j] }))
      )
    )
  )

const at = (s: Scores, which: 'global' | 'local', i: number, j: number): number => s[which][i * s.texts + j]

const run = async (values: Values, log: (line: string) => void): Promise<E.Either<CmgaError, void>> => {
  const out = outputFlag('match', values, 'out', 'file')
  if (E.isLeft(out)) return out
  const images = await imageList('match', values, { flag: 'image', from: 'images-from' })
  if (E.isLeft(images)) return images
  const texts = await textList('match', values, { flag: 'text', from: 'texts-from' })
  if (E.isLeft(texts)) return texts
  const rt = runtimeFrom('match', values, log)
  if (E.isLeft(rt)) return rt
  return withRuntime(rt.right, (runtime) =>
    pipe(
      matchAll(runtime, images.right, texts.right),
      TE.chainEitherK((pairs) => writeResult(values, { model: runtime.identity, pairs }, log))
    )()
  )
}

/** @since 0.1.0 */
export const matchCommand: Command = {
  name: 'match',
  summary: 'score images against texts: global, local and ITM match probability',
  help,
  flags: { ...runtimeFlags, image: { type: 'string', multiple: true }, text: { type: 'string', multiple: true }, 'images-from': { type: 'string' }, 'texts-from': { type: 'string' }, out: { type: 'string' }, force: { type: 'boolean' } },
  run
}
