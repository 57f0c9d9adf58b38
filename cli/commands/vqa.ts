/**
 * `cmga vqa`: answers questions about images with the model's VQA head (spec section
 * 6): the top answers of `vqa_logits` for each image-question pair.
 * @since 0.1.0
 */
import { readFileSync } from 'node:fs'
import * as E from 'fp-ts/lib/Either.js'
import * as TE from 'fp-ts/lib/TaskEither.js'
import { pipe } from 'fp-ts/lib/function.js'
import type { CmgaError } from '../../compiler/errors.js'
import { fail } from '../../compiler/errors.js'
import type { Runtime } from '../../apps/cmga/runtime.js'
import { loadImages } from '../../runtime/images/index.js'
import type { Command, Values } from '../command.js'
import { imageList, textList } from '../lists.js'
import { integer, outputFlag } from '../command.js'
import { jsonOutHelp, runtimeFlags, runtimeFrom, runtimeHelp, withRuntime, writeResult } from '../runtime-flags.js'

const help = `Usage: cmga vqa --model DIR (--image FILE ... | --images-from F) (--question "..." ... | --questions-from FILE)
                [--answers FILE] [--top N]

Answers each question about its image (the first --question about the first --image,
and so on) with the model's VQA head, a classifier over the config's vqa.numAnswers
answers. Prints JSON (or writes it to --out): per pair the --top answers by logit, each
with its logit and score (the logit's sigmoid, as VQA heads trained with binary
cross-entropy read it).

  --image FILE         an image; repeat once per question
  --question TEXT      a question; repeat once per image
  --images-from F      a file with one image path a line, or a folder (every image in it
                       and its subfolders, sorted); with or instead of --image
  --questions-from FILE  questions, one a line (- reads standard input); with or instead
                       of --question
  --answers FILE       the answer names: a JSON array of strings (e.g. ALBEF's
                       answer_list.json) or a text file with one answer per line, as
                       many as vqa.numAnswers; without it answers are reported by index
  --top N              answers per question (default 5)
${jsonOutHelp}
${runtimeHelp()}
  -h, --help           this text`

/** Answer names from a JSON array or a one-per-line text file; exactly `count` of them. */
export const readAnswers = (path: string, count: number): E.Either<CmgaError, readonly string[]> => {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (e) {
    return fail('io', `cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`)
  }
  let names: unknown
  if (text.trimStart().startsWith('[')) {
    try {
      names = JSON.parse(text)
    } catch (e) {
      return fail('format', `${path}: not valid JSON (${(e as Error).message})`)
    }
    if (!Array.isArray(names) || !names.every((n) => typeof n === 'string')) return fail('format', `${path}: expected a JSON array of answer strings`)
  } else {
    names = text.split(/\r?\n/).filter((l, i, all) => l !== '' || i < all.length - 1)
  }
  const list = names as string[]
  return list.length === count ? E.right(list) : fail('input', `${path} has ${list.length} answers but the model's VQA head has ${count} (vqa.numAnswers)`)
}

/** One answer. */
export interface Answer {
  readonly rank: number
  readonly index: number
  readonly answer: string | null
  readonly logit: number
  readonly score: number
}

/** The top `top` answers of each pair (image b, question b). */
export const answerAll = (rt: Runtime, images: readonly string[], questions: readonly string[], top: number, names?: readonly string[]): TE.TaskEither<CmgaError, Answer[][]> =>
  pipe(
    TE.Do,
    TE.bind('px', () => () => loadImages(images, rt.config.vision.imageSize, { onError: 'fail' })),
    TE.bind('tf', () => rt.encodeTexts(questions)),
    TE.chain(({ px, tf }) => rt.vqa(px.pixels, tf)),
    TE.map((logits) => {
      const A = logits.shape[1]
      return images.map((_, b) => {
        const row = logits.data.subarray(b * A, (b + 1) * A)
        const order = Array.from(row.keys()).sort((x, y) => row[y] - row[x] || x - y)
        return order.slice(0, top).map((index, r): Answer => ({ rank: r + 1, index, answer: names?.[index] ?? null, logit: row[index], score: 1 / (1 + Math.exp(-row[index])) }))
      })
    })
  )

const run = async (values: Values, log: (line: string) => void): Promise<E.Either<CmgaError, void>> => {
  const images = await imageList('vqa', values, { flag: 'image', from: 'images-from' })
  const questions = await textList('vqa', values, { flag: 'question', from: 'questions-from' })
  const args = pipe(
    E.Do,
    E.bind('images', () => images),
    E.bind('questions', () => questions),
    E.chainFirst(({ images, questions }) => (images.length === questions.length ? E.right(undefined) : fail('usage', `cmga vqa: ${images.length} --image but ${questions.length} --question; give one question per image`))),
    E.bind('top', () => integer('vqa', values, 'top', 5, 1, 1 << 20)),
    E.chainFirst(() => outputFlag('vqa', values, 'out', 'file'))
  )
  if (E.isLeft(args)) return args
  const rt = runtimeFrom('vqa', values, log)
  if (E.isLeft(rt)) return rt
  return withRuntime(rt.right, (runtime) => {
    const count = runtime.config.vqa?.numAnswers
    const names = typeof values.answers === 'string' && count !== undefined ? readAnswers(values.answers, count) : E.right(undefined)
    if (E.isLeft(names)) return Promise.resolve(names)
    const { images, questions, top } = args.right
    return pipe(
      answerAll(runtime, images, questions, top, names.right),
      TE.chainEitherK((answers) => writeResult(values, { model: runtime.identity, pairs: images.map((image, b) => ({ image, question: questions[b], answers: answers[b] })) }, log))
    )()
  })
}

/** @since 0.1.0 */
export const vqaCommand: Command = {
  name: 'vqa',
  summary: 'answer questions about images with the VQA head',
  help,
  flags: { ...runtimeFlags, image: { type: 'string', multiple: true }, question: { type: 'string', multiple: true }, 'images-from': { type: 'string' }, 'questions-from': { type: 'string' }, answers: { type: 'string' }, top: { type: 'string' }, out: { type: 'string' }, force: { type: 'boolean' } },
  run
}
